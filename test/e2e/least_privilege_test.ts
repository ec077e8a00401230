/**
 * Correct under the identity DORIS really runs as (issue 9, items 1 and 2): `doris
 * bootstrap`'s ServiceAccount, whose RBAC lets it write Secrets anywhere but read them only in
 * its own namespace. Everything here runs `doris sync --once` with a kubeconfig from that
 * ServiceAccount's token, and judges by the API server's audit log and the admin's view.
 *
 *  (g) a no-op resync of a repository that declares a Secret in an app namespace writes
 *      nothing (dry-runs are not writes), yet a hand edit of that Secret is still reverted;
 *  (f) prune never deletes what it could not read: a Secret annotated `doris.dev/prune:
 *      disabled` by hand after DORIS applied it survives its removal from git, status says
 *      why, and an untouched Secret removed from git is still pruned;
 *  (c) a Secret another Pipeline owns is refused (`OwnershipConflict`) though DORIS may not
 *      read it: applied, it would become the second Pipeline's, to prune when it leaves git.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig, serviceAccountUser, syncPipeline } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const ctl = `doris-lp-${run}`;
const dorisUser = serviceAccountUser(ctl);
const namespacesToDelete: string[] = [];
let kubeconfig: string;
let fleetUrl: string;
const fleetNs = `e2e-lp-${run}`;

const secretYaml = (namespace: string, name: string, password: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nstringData:\n  password: ${password}\n`;

interface SecretView {
  metadata: { uid: string; resourceVersion: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

async function secret(namespace: string, name: string): Promise<SecretView | undefined> {
  const res = await api.request<SecretView>('GET', `/api/v1/namespaces/${namespace}/secrets/${name}`, { accept: [404] });
  return res.status === 404 ? undefined : res.body;
}

const decode = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8'));

interface StatusView {
  lastAppliedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  history?: Array<{ commit: string; result: string; message: string }>;
}

async function pipelineStatus(name: string): Promise<StatusView> {
  const res = await api.request<{ status?: StatusView }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/${name}`);
  return res.body.status ?? {};
}

/** Every write the shipped ServiceAccount made since `mark` (dry-runs and refusals excluded). */
function writesByDoris(mark: number): string[] {
  return writesBy(readAuditSince(env.AUDIT_LOG, mark), dorisUser).map((e) => `${e.verb} ${e.requestURI}`);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  namespacesToDelete.push(fleetNs);
  ({ url: fleetUrl } = await createRepo(env, 'least-privilege', {
    'deploy/1-base/10-ns.yml': namespaceYaml(fleetNs),
    'deploy/1-base/60-secret.yml': secretYaml(fleetNs, 'app-secret', 'not-a-real-one'),
    'deploy/1-base/120-config.yml': configMapYaml(fleetNs, 'settings', { mode: 'a' }),
  }));
  await bootstrapInstall(env, ctl, fleetUrl, 'fleet');
  kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
});

after(async () => {
  await removeInstall(api, ctl, kubeconfig, namespacesToDelete);
  api.close();
});

describe('(g) a no-op resync under the shipped ServiceAccount', () => {
  it('the first sync, as the ServiceAccount, applies the Secret it may write but not read', async () => {
    const result = await syncPipeline(env, ctl, 'fleet', kubeconfig);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(decode((await secret(fleetNs, 'app-secret'))?.data?.password), 'not-a-real-one');
    // The premise: this identity cannot read the Secret it just wrote.
    const asDoris = await KubeHttp.fromKubeconfigFile(kubeconfig);
    try {
      const res = await asDoris.request('GET', `/api/v1/namespaces/${fleetNs}/secrets/app-secret`, { accept: [403] });
      assert.equal(res.status, 403);
    } finally {
      asDoris.close();
    }
  });

  it('writes nothing at all: no object, no status, no history (audit log, dry-runs excluded)', async () => {
    const before = await pipelineStatus('fleet');
    const mark = auditMark(env.AUDIT_LOG);
    const started = Date.now();
    const result = await syncPipeline(env, ctl, 'fleet', kubeconfig);
    const ms = Date.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(writesByDoris(mark), []);
    assert.equal((await pipelineStatus('fleet')).history?.length, before.history?.length, 'a history entry was added');
    assert.match(result.stderr, /0 created, 0 configured, 0 recreated/);
    console.log(`no-op resync as ${dorisUser}: ${ms} ms (CLI process included), 0 writes`);
  });

  it('still detects a hand edit of that Secret and reverts it on the next sync', async () => {
    await api.request('PATCH', `/api/v1/namespaces/${fleetNs}/secrets/app-secret`, {
      body: { data: { password: Buffer.from('tampered').toString('base64') } },
      contentType: 'application/merge-patch+json',
    });
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncPipeline(env, ctl, 'fleet', kubeconfig);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(decode((await secret(fleetNs, 'app-secret'))?.data?.password), 'not-a-real-one', 'the drift was not reverted');
    const writes = writesByDoris(mark)
      .filter((w) => !w.includes('/pipelines/'))
      .map((w) => w.replace(/\?.*$/, ''));
    assert.ok(writes.length >= 1, 'the Secret was not written');
    assert.deepEqual(
      writes.filter((w) => !w.endsWith(`/api/v1/namespaces/${fleetNs}/secrets/app-secret`)),
      [],
      'only the drifted Secret is written',
    );
  });

  it('and after the revert, a resync writes nothing again', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncPipeline(env, ctl, 'fleet', kubeconfig);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(writesByDoris(mark), []);
  });
});

describe('(f) prune never deletes what it could not read', () => {
  const ns = `e2e-lp-prune-${run}`;
  const pipeline = 'prune';
  let url: string;
  let keepUid: string;

  before(async () => {
    namespacesToDelete.push(ns);
    ({ url } = await createRepo(env, 'lp-prune', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/60-keep.yml': secretYaml(ns, 'keep-me', 'one'),
      'deploy/1-base/61-drop.yml': secretYaml(ns, 'drop-me', 'two'),
      'deploy/1-base/62-stay.yml': secretYaml(ns, 'stays', 'three'),
      'deploy/1-base/120-config.yml': configMapYaml(ns, 'settings', { mode: 'a' }),
    }));
    await applyPipelineAsAdmin(api, ctl, pipeline, { git: { url, branch: 'main', path: 'deploy', secretRef: { name: 'doris-git' } } });
    const result = await syncPipeline(env, ctl, pipeline, kubeconfig);
    assert.equal(result.code, 0, result.stderr);
  });

  it('keeps a Secret annotated doris.dev/prune: disabled by hand after it was applied, and says why in status', async () => {
    const applied = await secret(ns, 'keep-me');
    assert.ok(applied && (await secret(ns, 'drop-me')));
    keepUid = applied.metadata.uid;
    await api.request('PATCH', `/api/v1/namespaces/${ns}/secrets/keep-me`, {
      body: { metadata: { annotations: { 'doris.dev/prune': 'disabled' } } },
      contentType: 'application/merge-patch+json',
    });
    await pushFiles(env, url, { 'deploy/1-base/60-keep.yml': null, 'deploy/1-base/61-drop.yml': null }, 'remove two Secrets');
    const result = await syncPipeline(env, ctl, pipeline, kubeconfig);
    const kept = await secret(ns, 'keep-me');
    assert.equal(kept?.metadata.uid, keepUid, `the Secret annotated prune: disabled was deleted (sync exit ${result.code}): ${result.stderr}`);
    assert.equal(kept?.metadata.annotations?.['doris.dev/prune'], 'disabled');
    const status = await pipelineStatus(pipeline);
    // Conditions and the latest history entry, not the inventory: they must say why.
    const said = [...(status.conditions ?? []).map((c) => c.message), status.history?.at(-1)?.message ?? '', status.history?.[0]?.message ?? ''].join('\n');
    assert.match(said, new RegExp(`${ns}[_/]keep-me`), `status does not say why keep-me was kept: ${said}`);
  });

  it('still prunes an untouched Secret removed from git, and the ones still declared stay', async () => {
    await waitFor('drop-me pruned', async () => (await secret(ns, 'drop-me')) === undefined, { timeoutMs: 10_000 });
    assert.ok(await secret(ns, 'stays'));
  });
});

describe('(c) a Secret DORIS may not read, claimed by a second Pipeline', () => {
  const ns = `e2e-lp-claim-${run}`;
  let claimerUrl: string;
  let original: SecretView | undefined;

  before(async () => {
    namespacesToDelete.push(ns);
    const { url: ownerUrl } = await createRepo(env, 'lp-owner', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/60-claimed.yml': secretYaml(ns, 'claimed', 'the-owners'),
    });
    ({ url: claimerUrl } = await createRepo(env, 'lp-claimer', {
      'deploy/1-base/60-claimed.yml': secretYaml(ns, 'claimed', 'the-claimers'),
      'deploy/1-base/120-config.yml': configMapYaml(ns, 'claimer-config', { a: '1' }),
    }));
    for (const [name, url] of [
      ['owner', ownerUrl],
      ['claimer', claimerUrl],
    ] as const) {
      await applyPipelineAsAdmin(api, ctl, name, { git: { url, branch: 'main', path: 'deploy', secretRef: { name: 'doris-git' } } });
    }
    const result = await syncPipeline(env, ctl, 'owner', kubeconfig);
    assert.equal(result.code, 0, result.stderr);
    original = await secret(ns, 'claimed');
    assert.ok(original);
  });

  it('fails with OwnershipConflict naming the owner, and writes nothing of the commit', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncPipeline(env, ctl, 'claimer', kubeconfig);
    assert.notEqual(result.code, 0, result.stderr);
    const live = await secret(ns, 'claimed');
    assert.equal(live?.metadata.resourceVersion, original?.metadata.resourceVersion, 'the claimed Secret was written');
    assert.equal(decode(live?.data?.password), 'the-owners');
    assert.deepEqual(
      writesByDoris(mark).filter((w) => w.includes(`/namespaces/${ns}/`)),
      [],
    );
    const ready = (await pipelineStatus('claimer')).conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'OwnershipConflict', ready?.message);
    assert.match(ready?.message ?? '', /Secret .*claimed.*"owner"/);
  });
});
