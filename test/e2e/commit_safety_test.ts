/**
 * A commit applies whole or not at all, and no repository can hurt the cluster or DORIS
 * (issue 16), against the real API server and its audit log:
 *
 *  (a) everything the API server would refuse is found by a server-side dry-run before the
 *      first write of the commit — zero writes of the commit's objects, and the error names
 *      `file:line:col`, the object and the API server's reason (a table of hostile inputs);
 *  (b) a custom resource whose kind exists nowhere fails the same way;
 *  (c) two Pipelines claiming one object: the second fails with `OwnershipConflict`, the
 *      object is not modified, and never pruned by the other;
 *  (d) CRDs are pruned only with `spec.prune.crds: true`; DORIS's own objects never;
 *  (e) a failed or vanished kind never wedges the Pipeline;
 *  (h) `spec.serviceAccountName` makes the Pipeline's reads, applies and prunes run as that
 *      ServiceAccount (`Impersonate-User`), proven with DORIS itself running as the shipped
 *      ServiceAccount.
 *
 * "The commit's objects" in the audit log are recognised by this run's unique suffix in
 * their namespace or name; writes of Pipelines (status) are DORIS's own bookkeeping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { installObjects } from '../../src/install/manifests.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy, type AuditEvent } from '../env/audit.js';
import { doris, syncInline } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig, serviceAccountUser, syncPipeline } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
/** Unique per run: a pid alone can be a substring of another run's pid. */
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const inlineNs = 'doris-system';
const namespacesToDelete: string[] = [];
const pathsToDelete: string[] = [];
const pipelinesToDelete: string[] = [];

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
});

after(async () => {
  for (const name of pipelinesToDelete) await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/${inlineNs}/pipelines/${name}`, { accept: [404] });
  for (const path of pathsToDelete) await api.request('DELETE', path, { accept: [404] });
  for (const ns of namespacesToDelete) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
});

interface Obj {
  metadata: { uid: string; resourceVersion: string; deletionTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

async function get(path: string): Promise<Obj | undefined> {
  const res = await api.request<Obj>('GET', path, { accept: [404] });
  return res.status === 404 ? undefined : res.body;
}

/** The uid of an object that exists and is not being deleted (a CRD or Namespace delete takes a while). */
async function liveUid(path: string): Promise<string | undefined> {
  const obj = await get(path);
  return obj && !obj.metadata.deletionTimestamp ? obj.metadata.uid : undefined;
}

interface StatusView {
  lastAppliedCommit?: string;
  inventory?: Array<{ id: string }>;
  pendingInventory?: Array<{ id: string }>;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  history?: Array<{ commit: string; result: string; message: string }>;
}

async function pipelineStatus(name: string, namespace = inlineNs): Promise<StatusView> {
  const res = await api.request<{ status?: StatusView }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${namespace}/pipelines/${name}`);
  return res.body.status ?? {};
}

const ready = (status: StatusView) => status.conditions?.find((c) => c.type === 'Ready');

async function createNamespace(name: string): Promise<void> {
  namespacesToDelete.push(name);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, accept: [409] });
}

/** Writes by the admin of objects of this run (dry-runs and refused requests excluded), as `resource ns/name`. */
function writesOfThisRun(events: AuditEvent[], user = 'admin'): string[] {
  return writesBy(events, user)
    .filter((e) => e.objectRef?.resource !== 'pipelines')
    .filter((e) => `${e.objectRef?.namespace ?? ''} ${e.objectRef?.name ?? ''}`.includes(run))
    .map(
      (e) =>
        `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.objectRef?.namespace ?? ''}/${e.objectRef?.name ?? ''}`,
    );
}

const crdYaml = (plural: string, kind: string, group: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}, listKind: ${kind}List}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

describe('(a, b) nothing of a commit is written when the API server would refuse any of it', () => {
  const ns = `e2e-hostile-${run}`;
  const nowhere = `e2e-nowhere-${run}`;
  const big = 'x'.repeat(600_000);

  before(() => createNamespace(ns));

  /**
   * One row per hostile input: the bad object (in wave 2, after a good ConfigMap in wave 1),
   * how the error must name it, and the reason it must give. A row may be refused by the
   * renderer (`BuildFailed`: the names, once name validation lands at render time, and maybe
   * the alias-expanded size) or by the server-side dry-run (`ValidationFailed`: everything
   * else); either way nothing is written and the file:line:col is named.
   */
  const rows: Array<{ name: string; kind: string; namespace: string; objectName: string; yaml: string; reason: RegExp }> = [
    {
      name: 'a metadata.name in upper case',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: 'Bad-Name',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad-Name\n  namespace: ${ns}\ndata: {a: "1"}\n`,
      reason: /RFC 1123|DNS-1123|lower-?case/i,
    },
    {
      name: 'a metadata.name of 300 characters',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: 'n'.repeat(300),
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${'n'.repeat(300)}\n  namespace: ${ns}\ndata: {a: "1"}\n`,
      reason: /253|too long|at most|no more than/i,
    },
    {
      name: 'an unknown kind',
      kind: 'Frobnicator',
      namespace: ns,
      objectName: 'frob',
      yaml: `apiVersion: v1\nkind: Frobnicator\nmetadata:\n  name: frob\n  namespace: ${ns}\n`,
      reason: /no resource for kind|not served|unknown kind|no matches for kind|could not find the requested resource/i,
    },
    {
      // (b)
      name: 'a custom resource whose CRD exists nowhere (not served, not in the commit)',
      kind: 'Ghost',
      namespace: ns,
      objectName: 'boo',
      yaml: `apiVersion: nowhere${run}.doris.dev/v1\nkind: Ghost\nmetadata:\n  name: boo\n  namespace: ${ns}\nspec: {scary: true}\n`,
      reason: /no resource for kind|not served|unknown kind|no matches for kind|could not find the requested resource/i,
    },
    {
      name: 'a namespace that neither exists nor is declared',
      kind: 'ConfigMap',
      namespace: nowhere,
      objectName: 'lost',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lost\n  namespace: ${nowhere}\ndata: {a: "1"}\n`,
      reason: new RegExp(`${nowhere}.*not found|not found.*${nowhere}|namespace.*(not found|does not exist)`, 'i'),
    },
    {
      name: 'replicas: "two"',
      kind: 'Deployment',
      namespace: ns,
      objectName: 'web',
      yaml: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: "two"
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: registry.example/web:1}]}
`,
      reason: /replicas/,
    },
    {
      name: 'a Service port of 99999',
      kind: 'Service',
      namespace: ns,
      objectName: 'web',
      yaml: `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ${ns}}\nspec:\n  selector: {app: web}\n  ports: [{port: 99999}]\n`,
      reason: /65535/,
    },
    {
      name: 'ConfigMap data that is not a string',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: 'numbers',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: numbers, namespace: ${ns}}\ndata:\n  port: 8080\n`,
      reason: /expected string|not a string|must be a string|cannot unmarshal number/i,
    },
    {
      name: 'a Secret whose data is not base64',
      kind: 'Secret',
      namespace: ns,
      objectName: 'creds',
      yaml: `apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ${ns}}\ndata:\n  password: "not base64!"\n`,
      reason: /base64/i,
    },
    {
      // A file may hold at most 1 MiB, as may a ConfigMap: a file under the limit reaches the
      // API server's object limit only through a YAML alias (600 KB, twice). If the renderer's
      // bound on alias expansion is lower, this is BuildFailed instead.
      name: "a ConfigMap over the API server's 1 MiB limit (one 600 KB value, aliased twice)",
      kind: 'ConfigMap',
      namespace: ns,
      objectName: 'huge',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: ${ns}}\ndata:\n  a: &big "${big}"\n  b: *big\n`,
      reason: /1048576|too long|too large|at most|exceed|limit/i,
    },
    {
      name: "annotations over the API server's 256 KiB limit",
      kind: 'ConfigMap',
      namespace: ns,
      objectName: 'noted',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: noted\n  namespace: ${ns}\n  annotations: {note: "${'y'.repeat(300_000)}"}\ndata: {a: "1"}\n`,
      reason: /262144|too long|at most|exceed|limit/i,
    },
    // Refused by the renderer, before any request (BuildFailed), and named all the same:
    {
      name: 'the same object twice, once without a namespace and once with namespace: default',
      kind: 'ConfigMap',
      namespace: 'default',
      objectName: `dup-${run}`,
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup-${run}\ndata: {a: "1"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup-${run}\n  namespace: default\ndata: {a: "2"}\n`,
      reason: /duplicate object: ConfigMap default\/dup-[\w-]+ is also defined at deploy\/2-bad\/120-bad\.yml:1:1/,
    },
    {
      name: 'an apiVersion that would climb the URL (../api/v1)',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: `escape-${run}`,
      yaml: `apiVersion: ../api/v1\nkind: ConfigMap\nmetadata: {name: escape-${run}, namespace: ${ns}}\n`,
      reason: /apiVersion "\.\.\/api\/v1" is not valid/,
    },
    {
      name: 'a metadata.name of ".."',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: '..',
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "..", namespace: ${ns}}\n`,
      reason: /metadata\.name "\.\." is not valid/,
    },
    {
      name: 'a namespace holding a "/"',
      kind: 'ConfigMap',
      namespace: 'kube-system/x',
      objectName: `slash-${run}`,
      yaml: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slash-${run}, namespace: "kube-system/x"}\n`,
      reason: /metadata\.namespace "kube-system\/x" is not valid/,
    },
    {
      name: 'replicas: .nan',
      kind: 'Deployment',
      namespace: ns,
      objectName: `nan-${run}`,
      yaml: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nan-${run}, namespace: ${ns}}\nspec:\n  replicas: .nan\n`,
      reason: /\.nan is not a number/,
    },
    {
      name: 'an integer beyond 2^53',
      kind: 'Deployment',
      namespace: ns,
      objectName: `big-${run}`,
      yaml: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big-${run}, namespace: ${ns}}\nspec:\n  replicas: 12345678901234567890\n`,
      reason: /beyond 2\^53/,
    },
    {
      name: 'a kind: List whose item is invalid (Lists expand, as in kubectl)',
      kind: 'ConfigMap',
      namespace: ns,
      objectName: `Listed-${run}`,
      yaml: `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: Listed-${run}, namespace: ${ns}}\n`,
      reason: /metadata\.name "Listed-[\w-]+" is not valid/,
    },
  ];

  for (const [i, row] of rows.entries()) {
    it(`refuses ${row.name}: zero writes, file:line:col, the object and the reason`, async () => {
      const pipeline = `hostile-${i}-${run}`;
      pipelinesToDelete.push(pipeline);
      const good = `good-${i}`;
      const { url } = await createRepo(env, 'hostile', {
        'deploy/1-good/120-good.yml': configMapYaml(ns, good, { a: '1' }),
        'deploy/2-bad/120-bad.yml': row.yaml,
      });
      const mark = auditMark(env.AUDIT_LOG);
      const result = await syncInline(env, pipeline, url);
      const writes = writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark));
      const out = result.stderr.length > 4000 ? `${result.stderr.slice(0, 4000)}...` : result.stderr;
      assert.equal(result.code, 1, out);
      assert.deepEqual(writes, [], 'objects of the commit were written before it was refused');
      assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/${good}`), undefined, 'the good object of wave 1 was not applied');
      const status = await pipelineStatus(pipeline);
      const reason = ready(status)?.reason;
      assert.ok(reason === 'ValidationFailed' || reason === 'BuildFailed', `reason ${reason}: ${ready(status)?.message.slice(0, 500)}`);
      assert.equal(status.lastAppliedCommit, undefined);
      assert.match(result.stderr, /deploy\/2-bad\/120-bad\.yml:\d+:\d+/, out);
      assert.match(result.stderr, row.reason, out);
      if (reason === 'ValidationFailed') {
        assert.ok(
          result.stderr.includes(`${row.kind} ${row.namespace}/${row.objectName}`),
          `the object is named as "${row.kind} ${row.namespace}/name": ${out}`,
        );
      } else {
        assert.ok(result.stderr.includes(row.kind) && result.stderr.includes(row.objectName), `the object is named: ${out}`);
      }
    });
  }

  it('doris plan shows what the API server would refuse, naming file:line:col, and writes nothing', async () => {
    const { url } = await createRepo(env, 'plan-refused', {
      'deploy/1-good/120-good.yml': configMapYaml(ns, 'plan-good', { a: '1' }),
      'deploy/2-bad/200-svc.yml': `apiVersion: v1\nkind: Service\nmetadata: {name: plan-web, namespace: ${ns}}\nspec:\n  selector: {app: web}\n  ports: [{port: 99999}]\n`,
    });
    const mark = auditMark(env.AUDIT_LOG);
    const result = await doris(env, ['plan', '--repo', url, '--name', `plan-${run}`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^create\s+ConfigMap e2e-hostile-[\w-]+\/plan-good/m);
    assert.match(result.stdout, /^error\s+Service e2e-hostile-[\w-]+\/plan-web .*\(deploy\/2-bad\/200-svc\.yml:1:1: .*65535/m);
    assert.match(result.stderr, /1 errors/);
    assert.deepEqual(writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)), []);
  });

  it('validates objects that need a Namespace and a CRD of the same commit after the prelude, and applies them', async () => {
    const newNs = `e2e-prelude-${run}`;
    const group = `e2e${run}.doris.dev`;
    namespacesToDelete.push(newNs);
    pathsToDelete.push(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}`);
    const pipeline = `prelude-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'prelude', {
      'deploy/1-base/10-ns.yml': namespaceYaml(newNs),
      'deploy/1-base/50-crd.yml': crdYaml('gadgets', 'Gadget', group),
      'deploy/1-base/120-cm.yml': configMapYaml(newNs, 'settings', { a: '1' }),
      'deploy/2-app/100-gadget.yml': `apiVersion: ${group}/v1\nkind: Gadget\nmetadata:\n  name: g1\n  namespace: ${newNs}\nspec: {size: 3}\n`,
    });
    const result = await syncInline(env, pipeline, url);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await get(`/apis/${group}/v1/namespaces/${newNs}/gadgets/g1`))?.spec?.size, 3);
    assert.ok(await get(`/api/v1/namespaces/${newNs}/configmaps/settings`));
  });

  it('refuses a bad object in a namespace declared by the same commit: only the prelude is written', async () => {
    const newNs = `e2e-prelude-bad-${run}`;
    namespacesToDelete.push(newNs);
    const pipeline = `prelude-bad-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'prelude-bad', {
      'deploy/1-base/10-ns.yml': namespaceYaml(newNs),
      'deploy/1-base/120-cm.yml': configMapYaml(newNs, 'settings', { a: '1' }),
      'deploy/2-app/200-svc.yml': `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ${newNs}}\nspec:\n  selector: {app: web}\n  ports: [{port: 99999}]\n`,
    });
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, pipeline, url);
    const writes = writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)).filter(
      (w) => !w.startsWith('create namespaces ') && !w.startsWith('patch namespaces '),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(writes, [], 'nothing but the prelude (the Namespace) was written');
    assert.equal(ready(await pipelineStatus(pipeline))?.reason, 'ValidationFailed');
    assert.match(result.stderr, /deploy\/2-app\/200-svc\.yml:\d+:\d+/);
    assert.ok(result.stderr.includes(`Service ${newNs}/web`), result.stderr);
    assert.match(result.stderr, /65535/);
  });
});

describe('(c) two Pipelines claiming one object', () => {
  const ns = `e2e-owner-${run}`;
  const first = `owner-a-${run}`;
  const second = `owner-b-${run}`;
  const sharedPath = `/api/v1/namespaces/${ns}/configmaps/shared`;
  let secondUrl: string;
  let firstUrl: string;
  let original: Obj | undefined;

  before(async () => {
    await createNamespace(ns);
    pipelinesToDelete.push(first, second);
    ({ url: firstUrl } = await createRepo(env, 'owner-a', {
      'deploy/1-app/120-shared.yml': configMapYaml(ns, 'shared', { owner: 'a' }),
      'deploy/1-app/130-a.yml': configMapYaml(ns, 'only-a', { a: '1' }),
    }));
    ({ url: secondUrl } = await createRepo(env, 'owner-b', {
      'deploy/1-app/120-shared.yml': configMapYaml(ns, 'shared', { owner: 'b' }),
      'deploy/1-app/130-b.yml': configMapYaml(ns, 'only-b', { b: '1' }),
    }));
    const result = await syncInline(env, first, firstUrl);
    assert.equal(result.code, 0, result.stderr);
    original = await get(sharedPath);
    assert.equal(original?.metadata.labels?.['doris.dev/pipeline'], first);
  });

  it('the second Pipeline fails with OwnershipConflict naming the object and its owner, and leaves it alone', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, second, secondUrl);
    const writes = writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)).filter((w) => w.endsWith(`${ns}/shared`));
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(writes, [], 'the claimed object was written');
    const live = await get(sharedPath);
    assert.equal(live?.metadata.resourceVersion, original?.metadata.resourceVersion, 'the object was not modified');
    assert.equal(live?.metadata.labels?.['doris.dev/pipeline'], first);
    const status = await pipelineStatus(second);
    assert.equal(ready(status)?.reason, 'OwnershipConflict', ready(status)?.message);
    assert.ok(result.stderr.includes(`ConfigMap ${ns}/shared`), result.stderr);
    assert.ok(result.stderr.includes(first), `names the owning Pipeline: ${result.stderr}`);
    assert.ok(ready(status)?.message.includes(first));
  });

  it('the owner keeps it: its resync changes nothing', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, first, firstUrl);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)), []);
    assert.equal((await get(sharedPath))?.data?.owner, 'a');
  });

  it('the other Pipeline never prunes it: dropping it from its repository leaves it in place', async () => {
    await pushFiles(env, secondUrl, { 'deploy/1-app/120-shared.yml': null }, 'give up the shared object');
    const result = await syncInline(env, second, secondUrl);
    assert.equal(result.code, 0, result.stderr);
    const live = await get(sharedPath);
    assert.equal(await liveUid(sharedPath), original?.metadata.uid, "still the first Pipeline's object");
    assert.equal(live?.metadata.labels?.['doris.dev/pipeline'], first);
    assert.equal(live?.data?.owner, 'a');
    assert.ok(await get(`/api/v1/namespaces/${ns}/configmaps/only-b`));
    assert.ok(!(await pipelineStatus(second)).inventory?.some((e) => e.id.includes('_shared_')));
  });
});

describe('(d) what prune never deletes', () => {
  const crdPath = (plural: string, group: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`;

  it('keeps a CRD that left the repository: deleting it would delete every object of its kind cluster-wide', async () => {
    const ns = `e2e-crdkeep-${run}`;
    const group = `keep${run}.doris.dev`;
    namespacesToDelete.push(ns);
    pathsToDelete.push(crdPath('keepers', group));
    const pipeline = `crd-keep-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'crd-keep', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/50-crd.yml': crdYaml('keepers', 'Keeper', group),
      'deploy/1-base/120-a.yml': configMapYaml(ns, 'a', { a: '1' }),
      'deploy/1-base/130-b.yml': configMapYaml(ns, 'b', { b: '1' }),
    });
    assert.equal((await syncInline(env, pipeline, url)).code, 0);
    const before = await get(crdPath('keepers', group));
    assert.ok(before);
    await pushFiles(env, url, { 'deploy/1-base/50-crd.yml': null }, 'drop the CRD');
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, pipeline, url);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await liveUid(crdPath('keepers', group)), before.metadata.uid, 'the CRD was pruned without spec.prune.crds: true');
    assert.deepEqual(
      writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)).filter((w) => w.startsWith('delete ')),
      [],
    );
  });

  it('prunes a CRD that left the repository when the Pipeline says spec.prune.crds: true', async () => {
    const ns = `e2e-crdprune-${run}`;
    const group = `prune${run}.doris.dev`;
    namespacesToDelete.push(ns);
    pathsToDelete.push(crdPath('droppers', group));
    const pipeline = `crd-prune-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'crd-prune', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/50-crd.yml': crdYaml('droppers', 'Dropper', group),
      'deploy/1-base/120-a.yml': configMapYaml(ns, 'a', { a: '1' }),
      'deploy/1-base/130-b.yml': configMapYaml(ns, 'b', { b: '1' }),
    });
    await applyPipelineAsAdmin(api, inlineNs, pipeline, {
      git: { url, branch: 'main', path: 'deploy' },
      prune: { enabled: true, allowMass: false, crds: true },
    });
    const first = await syncPipeline(env, inlineNs, pipeline);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(await get(crdPath('droppers', group)));
    await pushFiles(env, url, { 'deploy/1-base/50-crd.yml': null }, 'drop the CRD');
    const result = await syncPipeline(env, inlineNs, pipeline);
    assert.equal(result.code, 0, result.stderr);
    await waitFor('the CRD deleted', async () => (await get(crdPath('droppers', group))) === undefined, { timeoutMs: 30_000 });
  });

  it('keeps a Namespace whose file left the repository while objects of the commit are still in it', async () => {
    const ns = `e2e-nskeep-${run}`;
    namespacesToDelete.push(ns);
    const pipeline = `ns-keep-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'ns-keep', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/120-a.yml': configMapYaml(ns, 'a', { a: '1' }),
      'deploy/1-base/130-b.yml': configMapYaml(ns, 'b', { b: '1' }),
    });
    assert.equal((await syncInline(env, pipeline, url)).code, 0);
    const uid = await liveUid(`/api/v1/namespaces/${ns}`);
    assert.ok(uid);
    await pushFiles(env, url, { 'deploy/1-base/10-ns.yml': null }, 'drop only the Namespace file');
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, pipeline, url);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      writesOfThisRun(readAuditSince(env.AUDIT_LOG, mark)).filter((w) => w.startsWith('delete ')),
      [],
    );
    const live = await get(`/api/v1/namespaces/${ns}`);
    assert.equal(live?.metadata.uid, uid);
    assert.equal(live?.metadata.deletionTimestamp, undefined, 'the Namespace is being deleted, and the objects of the commit with it');
    assert.match(ready(await pipelineStatus(pipeline))?.message ?? '', new RegExp(`_${ns}__Namespace: objects this commit declares are in it`));
  });

  it("never prunes DORIS's own namespace, ServiceAccount, RBAC and Deployment, even with allowMass", async () => {
    // The Pipeline CRD is left out: were it pruned, every Pipeline of every test running on
    // this shared cluster would go with it. The rule for CRDs above covers it (no opt-in here).
    const ctl = `doris-own-${run}`;
    const pipeline = `own-${run}`;
    const own = installObjects({ namespace: ctl, image: 'registry.example/doris:1' }).filter((o) => !['CustomResourceDefinition', 'Service'].includes(o.kind));
    const resources: Record<string, string> = {
      Namespace: '/api/v1/namespaces',
      ServiceAccount: `/api/v1/namespaces/${ctl}/serviceaccounts`,
      ClusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      ClusterRoleBinding: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ctl}/roles`,
      RoleBinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ctl}/rolebindings`,
      Deployment: `/apis/apps/v1/namespaces/${ctl}/deployments`,
    };
    const paths = own.map((o) => {
      const base = resources[o.kind];
      assert.ok(base, `no path for ${o.kind}`);
      return `${base}/${o.metadata.name}`;
    });
    namespacesToDelete.push(ctl);
    pathsToDelete.push(...paths.filter((p) => p.includes('/clusterrole')));
    const { url } = await createRepo(env, 'own', {
      'deploy/0-doris/170-doris.yml': own.map((o) => stringify(o)).join('---\n'),
      'deploy/1-app/120-extra.yml': configMapYaml(ctl, 'extra', { a: '1' }),
      'deploy/1-app/130-keep.yml': configMapYaml(ctl, 'keep', { a: '1' }),
    });
    const sync = () => doris(env, ['--namespace', ctl, 'sync', '--once', '--repo', url, '--name', pipeline, '--allow-mass-prune']);
    const first = await sync();
    assert.equal(first.code, 0, first.stderr);
    const uids = new Map<string, string>();
    for (const path of paths) {
      const uid = await liveUid(path);
      assert.ok(uid, `${path} was applied`);
      uids.set(path, uid);
    }
    await pushFiles(env, url, { 'deploy/0-doris/170-doris.yml': null, 'deploy/1-app/120-extra.yml': null }, 'DORIS leaves the repository');
    const result = await sync();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await get(`/api/v1/namespaces/${ctl}/configmaps/extra`), undefined, 'an ordinary object was pruned');
    const gone = [];
    for (const path of paths) if ((await liveUid(path)) !== uids.get(path)) gone.push(path);
    assert.deepEqual(gone, [], "DORIS's own objects were pruned");
  });
});

describe('(e) a failed or vanished kind never wedges the Pipeline', () => {
  it("a commit with a typo'd kind fails; the next commit, without it, syncs", async () => {
    const ns = `e2e-typo-${run}`;
    namespacesToDelete.push(ns);
    const pipeline = `typo-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'typo', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/120-a.yml': configMapYaml(ns, 'a', { a: '1' }),
    });
    assert.equal((await syncInline(env, pipeline, url)).code, 0);
    await pushFiles(
      env,
      url,
      { 'deploy/2-app/120-typo.yml': `apiVersion: v1\nkind: ConfigMapp\nmetadata:\n  name: typo\n  namespace: ${ns}\ndata: {a: "1"}\n` },
      'typo',
    );
    const failed = await syncInline(env, pipeline, url);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /ConfigMapp/);
    const fixed = await pushFiles(
      env,
      url,
      { 'deploy/2-app/120-typo.yml': null, 'deploy/1-base/130-b.yml': configMapYaml(ns, 'b', { b: '1' }) },
      'fix the typo',
    );
    const result = await syncInline(env, pipeline, url);
    assert.equal(result.code, 0, result.stderr);
    const status = await pipelineStatus(pipeline);
    assert.equal(status.lastAppliedCommit, fixed);
    assert.equal(ready(status)?.status, 'True');
    const ids = [...(status.inventory ?? []), ...(status.pendingInventory ?? [])].map((e) => e.id);
    assert.ok(!ids.some((id) => id.endsWith('_ConfigMapp')), `the typo'd object is not in the inventory: ${ids.join(', ')}`);
    assert.ok(await get(`/api/v1/namespaces/${ns}/configmaps/b`));
  });

  it('an object whose CRD was deleted by hand is dropped from the inventory when it leaves the repository', async () => {
    const ns = `e2e-vanish-${run}`;
    const group = `vanish${run}.doris.dev`;
    const crd = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.${group}`;
    namespacesToDelete.push(ns);
    pathsToDelete.push(crd);
    const pipeline = `vanish-${run}`;
    pipelinesToDelete.push(pipeline);
    const { url } = await createRepo(env, 'vanish', {
      'deploy/1-base/10-ns.yml': namespaceYaml(ns),
      'deploy/1-base/50-crd.yml': crdYaml('gizmos', 'Gizmo', group),
      'deploy/1-base/120-a.yml': configMapYaml(ns, 'a', { a: '1' }),
      'deploy/1-base/130-b.yml': configMapYaml(ns, 'b', { b: '1' }),
      'deploy/2-app/100-gizmo.yml': `apiVersion: ${group}/v1\nkind: Gizmo\nmetadata:\n  name: g1\n  namespace: ${ns}\n`,
    });
    assert.equal((await syncInline(env, pipeline, url)).code, 0);
    // Someone removes the CRD by hand: the kind is no longer served and the Gizmo is gone.
    await api.request('DELETE', crd);
    await waitFor('the CRD gone', async () => (await get(crd)) === undefined, { timeoutMs: 30_000 });
    const commit = await pushFiles(env, url, { 'deploy/1-base/50-crd.yml': null, 'deploy/2-app/100-gizmo.yml': null }, 'drop the gizmos');
    const result = await syncInline(env, pipeline, url);
    assert.equal(result.code, 0, result.stderr);
    const status = await pipelineStatus(pipeline);
    assert.equal(status.lastAppliedCommit, commit);
    const ids = [...(status.inventory ?? []), ...(status.pendingInventory ?? [])].map((e) => e.id);
    assert.ok(!ids.some((id) => id.includes(group) || id.endsWith('_Gizmo')), `dropped from the inventory: ${ids.join(', ')}`);
  });
});

describe('(h) spec.serviceAccountName: every read, apply and prune as that ServiceAccount', () => {
  type ImpersonatedEvent = AuditEvent & { impersonatedUser?: { username?: string } };
  const ctl = `doris-imp-${run}`;
  const teamNs = `e2e-team-${run}`;
  const otherNs = `e2e-other-${run}`;
  const crb = `e2e-escalate-${run}`;
  const teamUser = serviceAccountUser(ctl, 'team');
  const dorisUser = serviceAccountUser(ctl);
  let url: string;
  let victimUrl: string;
  let kubeconfig: string;
  const teamCm = (name: string) => configMapYaml(teamNs, name, { team: name });

  before(async () => {
    ({ url } = await createRepo(env, 'team', {
      'deploy/1-app/120-a.yml': teamCm('team-a'),
      'deploy/1-app/130-b.yml': teamCm('team-b'),
      'deploy/1-app/140-c.yml': teamCm('team-c'),
    }));
    ({ url: victimUrl } = await createRepo(env, 'victim', { 'deploy/1-app/120-a.yml': configMapYaml(otherNs, 'victim', { a: '1' }) }));
    await bootstrapInstall(env, ctl, url, 'bootstrapped');
    pathsToDelete.push(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`);
    await createNamespace(teamNs);
    await createNamespace(otherNs);
    await api.request('POST', `/api/v1/namespaces/${ctl}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'team' } } });
    // The team's account administers its own namespace (the built-in `admin` role, bound
    // there only), and nothing else: no cluster-scoped objects, no other namespace.
    await api.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${teamNs}/rolebindings`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'team-admin' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'team', namespace: ctl }],
      },
    });
    await applyPipelineAsAdmin(api, ctl, 'team', {
      git: { url, branch: 'main', path: 'deploy', secretRef: { name: 'doris-git' } },
      serviceAccountName: 'team',
    });
    await applyPipelineAsAdmin(api, ctl, 'victim', {
      git: { url: victimUrl, branch: 'main', path: 'deploy', secretRef: { name: 'doris-git' } },
      prune: { enabled: true, allowMass: false },
    });
    kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
  });

  after(() => removeInstall(api, ctl, kubeconfig));

  it("applies as the Pipeline's ServiceAccount, with DORIS running as the shipped one", async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncPipeline(env, ctl, 'team', kubeconfig);
    const events = readAuditSince(env.AUDIT_LOG, mark) as ImpersonatedEvent[];
    assert.equal(result.code, 0, result.stderr);
    for (const name of ['team-a', 'team-b', 'team-c']) assert.ok(await get(`/api/v1/namespaces/${teamNs}/configmaps/${name}`), name);
    // Every request on the team's objects that the audit log records (writes and dry-runs).
    const requests = events.filter((e) => e.objectRef?.namespace === teamNs && ['team-a', 'team-b', 'team-c'].includes(e.objectRef.name ?? ''));
    assert.ok(requests.length >= 3, `${requests.length} requests on ${teamNs}`);
    const wrong = requests.filter((e) => e.user.username !== dorisUser || e.impersonatedUser?.username !== teamUser);
    assert.deepEqual(
      wrong.map((e) => `${e.verb} ${e.requestURI} by ${e.user.username} as ${e.impersonatedUser?.username ?? '(itself)'}`),
      [],
    );
  });

  it('cannot create a ClusterRoleBinding its account may not create', async () => {
    await pushFiles(
      env,
      url,
      {
        'deploy/2-escalate/10-crb.yml': `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${crb}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: team, namespace: ${ctl}}]
`,
      },
      'escalate',
    );
    const result = await syncPipeline(env, ctl, 'team', kubeconfig);
    assert.equal(await get(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`), undefined, 'the ClusterRoleBinding was created');
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(teamUser), `the refusal names the impersonated account: ${result.stderr}`);
    assert.match(result.stderr, /forbidden/i);
  });

  it('cannot rewrite another Pipeline (its git URL, allowMass)', async () => {
    await pushFiles(
      env,
      url,
      {
        'deploy/2-escalate/10-crb.yml': null,
        'deploy/2-escalate/20-victim.yml': `apiVersion: doris.dev/v1alpha1
kind: Pipeline
metadata: {name: victim, namespace: ${ctl}}
spec:
  git: {url: "https://evil.example/fleet.git", branch: main, path: deploy}
  prune: {enabled: true, allowMass: true}
`,
      },
      'hijack',
    );
    const result = await syncPipeline(env, ctl, 'team', kubeconfig);
    const victim = await get(`/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/victim`);
    const spec = victim?.spec as { git: { url: string }; prune: { allowMass: boolean } } | undefined;
    assert.equal(spec?.git.url, victimUrl, "the other Pipeline's repository was rewritten");
    assert.equal(spec?.prune.allowMass, false);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(teamUser), result.stderr);
  });

  it('cannot read or write in a namespace its account has no rights in', async () => {
    await pushFiles(
      env,
      url,
      {
        'deploy/2-escalate/20-victim.yml': null,
        'deploy/2-escalate/30-other.yml': configMapYaml(otherNs, 'intruder', { a: '1' }),
      },
      'another namespace',
    );
    const result = await syncPipeline(env, ctl, 'team', kubeconfig);
    assert.equal(await get(`/api/v1/namespaces/${otherNs}/configmaps/intruder`), undefined);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(teamUser), result.stderr);
    assert.match(result.stderr, /forbidden/i);
  });

  it("prunes as the Pipeline's ServiceAccount", async () => {
    const commit = await pushFiles(env, url, { 'deploy/2-escalate/30-other.yml': null, 'deploy/1-app/130-b.yml': null }, 'drop team-b');
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncPipeline(env, ctl, 'team', kubeconfig);
    const events = readAuditSince(env.AUDIT_LOG, mark) as ImpersonatedEvent[];
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await pipelineStatus('team', ctl)).lastAppliedCommit, commit);
    await waitFor('team-b pruned', async () => (await get(`/api/v1/namespaces/${teamNs}/configmaps/team-b`)) === undefined, { timeoutMs: 10_000 });
    const deletes = events.filter((e) => e.verb === 'delete' && e.objectRef?.name === 'team-b' && e.objectRef.namespace === teamNs);
    assert.ok(deletes.length >= 1, 'no delete of team-b in the audit log');
    for (const d of deletes) assert.equal(d.impersonatedUser?.username, teamUser, `${d.verb} ${d.requestURI} by ${d.user.username}`);
  });
});
