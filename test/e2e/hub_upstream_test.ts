/**
 * The hub's upstream side against the real API server, git server and registry: a Fleet gets
 * a revision for its branch head with a bundle ConfigMap whose bytes match the digest and
 * unpack to the wave folder; a new commit and a new digest under the same tag each make a new
 * revision, and a bundle no revision uses any more is deleted; a SOPS-encrypted file travels
 * sealed (the hub has no key); a commit that does not render leaves the revision where it was and says why
 * (file:line:col); an idle Fleet writes nothing to the API server; upstream is asked once per
 * interval (the git server's own access log counts it).
 *
 * The upstream poller runs in this process, as the hub's leader runs it, under the hub's own
 * ServiceAccount (its shipped Role): every read and write here is authorized as in production.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import type { Fleet } from '../../src/api/hub.js';
import { defaultSchedulerOptions } from '../../src/controller/scheduler.js';
import { BundleStore, bundleConfigMapName, bundleDigest, extractBundle } from '../../src/hub/bundles.js';
import { ensureHubCrds } from '../../src/hub/crds.js';
import { hubAccountName, hubCrdRoleName, hubRbacObjects } from '../../src/hub/install.js';
import { FleetCache } from '../../src/hub/fleets.js';
import { Upstream } from '../../src/hub/upstream.js';
import { connectKube, type HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { createLogger } from '../../src/log.js';
import { auditMark, readAuditSince } from '../env/audit.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

const run = `${process.pid}`;
const ns = `hub-h6b-${run}`;
const fleetName = 'solar';
const intervalMs = 2000;

let env: TestEnv;
let api: KubeHttp;
let admin: HttpKubeClient;
/** The hub's identity. */
let client: HttpKubeClient;
let kubeconfig = '';
let work: string;
let fleets: FleetCache;
let upstream: Upstream;
let repo: { url: string; commit: string };
const metrics = new Registry();
const upstreamRequests = new Counter({ name: 'upstream_requests', help: 'h', labelNames: ['source', 'result'] as const, registers: [metrics] });
const image = () => `${env.REGISTRY}/hub-h6b-${run}/app`;

async function fleet(): Promise<Fleet> {
  return (await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleetName}`)).body;
}

const ready = (f: Fleet) => f.status?.conditions?.find((c) => c.type === 'Ready');

/** GETs of the repository's refs in the git server's log since `mark` (each ls-remote and each fetch is one). */
function refsRequests(mark: number): number {
  const name = new URL(repo.url).pathname;
  const log = readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log'))
    .subarray(mark)
    .toString('utf8');
  return log.split('\n').filter((line) => line.startsWith(`GET ${name}/info/refs`)).length;
}

const gitLogSize = () => readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log')).length;

/** SOPS-encrypted (age): the hub holds no key; the file travels sealed to the devices that do. */
const sealedSecret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ${ns}-apps\ntype: Opaque\nstringData:\n  password: ENC[AES256_GCM,data:abcd,iv:aXY=,tag:dGFn,type:str]\nsops:\n  age:\n    - recipient: age1qqqq\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        x\n        -----END AGE ENCRYPTED FILE-----\n  lastmodified: "2026-12-01T00:00:00Z"\n  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]\n  version: 3.13.3\n`;

const files = (tag: string) => ({
  'deploy/1-app/10-namespace.yml': namespaceYaml(`${ns}-apps`),
  'deploy/1-app/15-secret.yml': sealedSecret,
  'deploy/1-app/20-app.yml': deploymentYaml({ namespace: `${ns}-apps`, name: 'app', image: `${image()}:${tag}` }),
  'README.md': 'not in the bundle',
});

let credsFile = '';

/** A hub leader's upstream side: its own Fleet watch, bundle store and scratch folder. */
function startLeader(workDir: string): void {
  fleets = new FleetCache(client, ns, createLogger({ level: 'warn' }));
  upstream = new Upstream(
    {
      client,
      namespace: ns,
      log: createLogger({ level: 'warn' }),
      fleets,
      bundles: new BundleStore(client, ns),
      workDir,
      registryCredentialsFile: credsFile,
      metrics: { upstreamRequests },
    },
    // lastPolled alone is refreshed every hour: never within this test, however slow the machine.
    { schedule: { ...defaultSchedulerOptions(), jitter: 0 }, maxRevisions: 2, lastPolledEveryMs: 3_600_000 },
  );
  fleets.start();
  upstream.setLeading(true);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  admin = await connectKube(env.KUBECONFIG);
  work = mkdtempSync(join(tmpdir(), 'doris-hub-upstream-'));
  await ensureHubCrds(admin);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  for (const object of hubRbacObjects(ns)) await admin.apply(object, { manager: 'e2e-tests' });
  kubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
  client = await connectKube(kubeconfig);
  await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git' }, stringData: { username: env.GIT_USERNAME, token: env.GIT_TOKEN } },
  });
  credsFile = join(work, 'registry.json');
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(credsFile, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });
  await pushTestImage(env, `hub-h6b-${run}/app`, 'v1', `app one ${run}`);
  repo = await createRepo(env, 'hub-h6b', files('v1'));

  startLeader(work);
  await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets`, {
    body: {
      apiVersion: 'hub.doris.dev/v1alpha1',
      kind: 'Fleet',
      metadata: { name: fleetName },
      spec: {
        git: { url: repo.url, branch: 'main', path: 'deploy', secretRef: { name: 'git' }, interval: `${intervalMs / 1000}s` },
        // A glob rule: which repositories it tracks comes from the render of each commit.
        images: [{ repository: `${env.REGISTRY}/hub-h6b-${run}/*`, tag: 'v1', interval: `${intervalMs / 1000}s` }],
      },
    },
  });
});

after(async () => {
  await upstream?.stop(Date.now() + 10_000);
  await fleets?.stop();
  await api?.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api?.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api?.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  client?.close();
  admin?.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
  api?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('hub upstream', () => {
  let firstRevision = '';
  let firstBundle = '';

  it('resolves the branch head into a revision whose bundle ConfigMap matches its digest and unpacks to the wave folder', async () => {
    const f = await waitFor('the first revision', async () => {
      const f = await fleet();
      return f.status?.revision?.commit === repo.commit && f;
    });
    const revision = f.status!.revision!;
    firstRevision = revision.id;
    firstBundle = revision.bundle;
    assert.match(revision.id, /^r-[0-9a-f]{16}$/);
    assert.equal(ready(f)?.status, 'True');
    assert.deepEqual(
      f.status!.revisions!.map((r) => r.id),
      [revision.id],
    );
    assert.equal(f.status!.observedGeneration, f.metadata.generation);
    // The glob rule found the repository the manifests name, and pinned its digest.
    assert.deepEqual(
      revision.images.map((i) => [i.repository, i.tag, /^sha256:[0-9a-f]{64}$/.test(i.digest ?? '')]),
      [[image(), 'v1', true]],
    );

    const { body: cm } = await api.request<{
      immutable?: boolean;
      binaryData: { bundle: string };
      metadata: { labels: Record<string, string>; ownerReferences: Array<{ kind: string; name: string; uid: string }> };
    }>('GET', `/api/v1/namespaces/${ns}/configmaps/${bundleConfigMapName(revision.bundle)}`);
    assert.equal(cm.immutable, true);
    assert.equal(cm.metadata.labels['hub.doris.dev/fleet'], fleetName);
    assert.deepEqual(
      cm.metadata.ownerReferences.map((o) => [o.kind, o.name, o.uid]),
      [['Fleet', fleetName, f.metadata.uid]],
    );
    const bytes = Buffer.from(cm.binaryData.bundle, 'base64');
    assert.equal(bundleDigest(bytes), revision.bundle);
    assert.equal(bytes.length, revision.bundleSize);
    const dir = join(work, 'unpacked-1');
    assert.deepEqual(extractBundle(bytes, dir).files, 3);
    for (const [path, content] of Object.entries(files('v1'))) {
      if (!path.startsWith('deploy/')) continue;
      assert.equal(readFileSync(join(dir, path.slice('deploy/'.length)), 'utf8'), content);
    }
  });

  it('a new commit is a new revision, the previous one kept behind it, written by the hub identity', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const commit = await pushFiles(env, repo.url, {
      'deploy/1-app/30-config.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ${ns}-apps}\ndata: {a: "1"}\n`,
    });
    const f = await waitFor('the revision of the new commit', async () => {
      const f = await fleet();
      return f.status?.revision?.commit === commit && f;
    });
    assert.notEqual(f.status!.revision!.id, firstRevision);
    assert.deepEqual(
      f.status!.revisions!.map((r) => r.id),
      [f.status!.revision!.id, firstRevision],
    );
    const hubUser = serviceAccountUser(ns, hubAccountName);
    const writes = await waitFor('the audit records', () => {
      const found = readAuditSince(env.AUDIT_LOG, mark)
        .filter((e) => e.objectRef?.namespace === ns && ['create', 'patch'].includes(e.verb) && (e.responseStatus?.code ?? 0) < 300)
        .map((e) => `${e.user.username} ${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`);
      return found.length >= 2 && found;
    });
    assert.deepEqual([...new Set(writes)].sort(), [`${hubUser} create configmaps`, `${hubUser} patch fleets/status`]);
  });

  it('a new digest under the same tag is a new revision with no commit', async () => {
    const before = (await fleet()).status!.revision!;
    const digest = await pushTestImage(env, `hub-h6b-${run}/app`, 'v1', `app two ${run}`);
    assert.notEqual(before.images[0]?.digest, digest);
    const f = await waitFor('the revision of the new digest', async () => {
      const f = await fleet();
      return f.status?.revision?.images[0]?.digest === digest && f;
    });
    const revision = f.status!.revision!;
    assert.equal(revision.commit, before.commit);
    assert.equal(revision.bundle, before.bundle);
    assert.notEqual(revision.id, before.id);
    assert.deepEqual(
      f.status!.revisions!.map((r) => r.id),
      [revision.id, before.id],
    );
    // The first revision fell out of the bounded history (2 here): its bundle is deleted.
    assert.notEqual(firstBundle, revision.bundle);
    await waitFor('the unused bundle deleted', async () => {
      const { status } = await api.request('GET', `/api/v1/namespaces/${ns}/configmaps/${bundleConfigMapName(firstBundle)}`, { accept: [404] });
      return status === 404;
    });
    await api.request('GET', `/api/v1/namespaces/${ns}/configmaps/${bundleConfigMapName(revision.bundle)}`);
  });

  it('a commit that does not render is refused: Ready False BuildFailed naming file:line:col, the revision stays', async () => {
    const before = (await fleet()).status!.revision!;
    const broken = await pushFiles(env, repo.url, { 'deploy/1-app/40-broken.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n' });
    const f = await waitFor('the refusal', async () => {
      const f = await fleet();
      return ready(f)?.reason === 'BuildFailed' && f;
    });
    assert.equal(ready(f)?.status, 'False');
    assert.match(ready(f)!.message, new RegExp(`^commit ${broken.slice(0, 12)}: deploy/1-app/40-broken\\.yml:\\d+:\\d+: `));
    assert.equal(f.status!.revision!.id, before.id);
    assert.deepEqual(f.status!.revision, before);
    // Fixed: served again.
    const fixed = await pushFiles(env, repo.url, { 'deploy/1-app/40-broken.yml': null });
    const g = await waitFor('the fixed commit', async () => {
      const g = await fleet();
      return g.status?.revision?.commit === fixed && ready(g)?.status === 'True' && g;
    });
    // Same wave folder as before the broken commit: the same bundle.
    assert.equal(g.status!.revision!.bundle, before.bundle);
  });

  it('an idle Fleet writes nothing while upstream is asked once per interval', async () => {
    // Settled: the last write (the fixed commit) is in; from here on nothing changes upstream.
    const auditStart = auditMark(env.AUDIT_LOG);
    const logStart = gitLogSize();
    const started = Date.now();
    const polls = 5;
    await waitFor(`${polls} more ls-remote`, () => refsRequests(logStart) >= polls, { timeoutMs: 60_000 });
    const elapsed = Date.now() - started;
    const asked = refsRequests(logStart);
    // Once per interval: never faster (the first poll may come right after the mark).
    assert.ok(elapsed >= (asked - 1) * intervalMs * 0.9, `${asked} ls-remote in ${elapsed} ms at a ${intervalMs} ms interval`);
    const writes = readAuditSince(env.AUDIT_LOG, auditStart).filter(
      (e) => e.objectRef?.namespace === ns && ['create', 'update', 'patch', 'delete'].includes(e.verb),
    );
    assert.deepEqual(
      writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}/${e.objectRef?.subresource ?? ''}`),
      [],
    );
    const counted = await upstreamRequests.get();
    const lsRemote = counted.values.filter((v) => v.labels.source === 'git').reduce((sum, v) => sum + v.value, 0);
    assert.ok(lsRemote >= asked, 'the metric counts every ls-remote');
  });
  it('a new leader (the hub restarted, or another replica) resolves the same revision and writes nothing', async () => {
    await upstream.stop(Date.now() + 10_000);
    await fleets.stop();
    const before = (await fleet()).status!.revision!;
    const auditStart = auditMark(env.AUDIT_LOG);
    const logStart = gitLogSize();
    // Nothing carried over: a fresh git cache, no bundle cache, no image tracker state.
    startLeader(mkdtempSync(join(work, 'replica-')));
    // ls-remote, the fetch of the head, then the next ls-remote: the first poll has ended.
    await waitFor('two polls of the new leader', () => refsRequests(logStart) >= 3, { timeoutMs: 60_000 });
    const writes = readAuditSince(env.AUDIT_LOG, auditStart).filter(
      (e) => e.objectRef?.namespace === ns && ['create', 'update', 'patch', 'delete'].includes(e.verb) && (e.responseStatus?.code ?? 0) < 300,
    );
    assert.deepEqual(
      writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}/${e.objectRef?.subresource ?? ''}`),
      [],
    );
    assert.deepEqual((await fleet()).status!.revision, before);
  });

  it('a webhook wakes the Fleets it names at once, whatever their interval', async () => {
    // A second Fleet on the same repository that would not poll again for an hour.
    await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets`, {
      body: {
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Fleet',
        metadata: { name: 'wind' },
        spec: {
          git: { url: repo.url, branch: 'main', path: 'deploy', secretRef: { name: 'git' }, interval: '1h' },
          images: [{ repository: image(), tag: 'v1', interval: '1h' }],
        },
      },
    });
    const wind = async () => (await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/wind`)).body;
    const first = await waitFor('the first revision of wind', async () => (await wind()).status?.revision);
    assert.equal(first.commit, (await fleet()).status!.revision!.commit);
    // The same wave folder: one bundle, owned by both Fleets.
    assert.equal(first.bundle, (await fleet()).status!.revision!.bundle);
    const { body: shared } = await api.request<{ metadata: { ownerReferences: Array<{ name: string }> } }>(
      'GET',
      `/api/v1/namespaces/${ns}/configmaps/${bundleConfigMapName(first.bundle)}`,
    );
    assert.deepEqual(shared.metadata.ownerReferences.map((o) => o.name).sort(), ['solar', 'wind']);

    const commit = await pushFiles(env, repo.url, {
      'deploy/1-app/50-more.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: more, namespace: ${ns}-apps}\n`,
    });
    const names = upstream.fleetsForPush([repo.url], 'main').sort();
    assert.deepEqual(names, ['solar', 'wind']);
    for (const name of names) upstream.trigger(name, 'github push');
    await waitFor('wind at the pushed commit', async () => (await wind()).status?.revision?.commit === commit, { timeoutMs: 30_000 });

    const digest = await pushTestImage(env, `hub-h6b-${run}/app`, 'v1', `app three ${run}`);
    const pushed = upstream.fleetsForImages([{ repository: image(), tag: 'v1', digest }]).sort();
    assert.deepEqual(pushed, ['solar', 'wind']);
    for (const name of pushed) upstream.trigger(name, 'registry push');
    await waitFor('wind at the pushed digest', async () => (await wind()).status?.revision?.images[0]?.digest === digest, { timeoutMs: 30_000 });
  });
  it('refuses what it cannot serve, saying why: an invalid spec, a missing Secret, a wave folder over the bundle limit', async () => {
    // Random base64: ~1.4 MiB that gzip cannot bring under 900 KiB, in two files each under the 1 MiB file limit.
    const noise = () =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n${Math.random().toString(36).slice(2)}, namespace: ${ns}-apps}\ndata:\n  blob: ${randomBytes(540 * 1024).toString('base64')}\n`;
    const big = await createRepo(env, 'hub-h6b-big', { 'deploy/1-a/10-a.yml': noise(), 'deploy/1-a/20-b.yml': noise() });
    const create = (name: string, git: Record<string, unknown>) =>
      api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets`, {
        body: {
          apiVersion: 'hub.doris.dev/v1alpha1',
          kind: 'Fleet',
          metadata: { name },
          spec: { git: { branch: 'main', path: 'deploy', interval: '1h', ...git } },
        },
      });
    await create('bad-url', { url: 'file:///etc/passwd' });
    await create('no-secret', { url: repo.url, secretRef: { name: 'missing' } });
    await create('too-big', { url: big.url, secretRef: { name: 'git' } });
    const readyOf = async (name: string) =>
      (await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${name}`)).body.status?.conditions?.find(
        (c) => c.type === 'Ready',
      );
    const refused = async (name: string) => waitFor(`${name} refused`, async () => ((await readyOf(name))?.status === 'False' ? readyOf(name) : undefined));

    const badUrl = (await refused('bad-url'))!;
    assert.equal(badUrl.reason, 'InvalidSpec');
    assert.match(badUrl.message, /^spec\.git\.url: .*file:\/\/ is refused/);
    const noSecret = (await refused('no-secret'))!;
    assert.equal(noSecret.reason, 'CredentialsFailed');
    assert.match(noSecret.message, new RegExp(`Secret ${ns}/missing not found \\(spec\\.git\\.secretRef\\)`));
    const tooBig = (await refused('too-big'))!;
    assert.equal(tooBig.reason, 'BuildFailed');
    assert.match(
      tooBig.message,
      new RegExp(
        `^commit ${big.commit.slice(0, 12)}: the wave folder deploy is [\\d.]+ (KiB|MiB) compressed \\(\\d+ bytes\\); a bundle may be at most 900 KiB`,
      ),
    );
    for (const name of ['bad-url', 'no-secret', 'too-big']) {
      const { body } = await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${name}`);
      assert.equal(body.status?.revision, undefined, `${name} has no revision`);
    }
  });
});
