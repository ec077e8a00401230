/**
 * Kustomize folders against the real control plane, git server and audit log, with the real
 * `kustomize` (built from its Go module by test/env/tools.ts): a kustomize wave and a kustomize
 * step are applied in order, with kustomize's hashed ConfigMap names and DORIS's config hash;
 * a kustomization that fails, or that kustomize's load restrictor refuses, fails the sync
 * naming the folder and applies nothing; `doris validate` builds kustomize folders too.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy, type AuditEvent } from '../env/audit.js';
import { doris, syncInline } from '../env/doris.js';
import { deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';
import { ensureTools } from '../env/tools.js';

let env: TestEnv;
let api: KubeHttp;
let kustomize: string;
const run = `${process.pid}`;
const ns = `e2e-kust-${run}`;
const pipeline = `kust-${run}`;
const temps: string[] = [];

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ kustomize } = await ensureTools());
});

after(async () => {
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${pipeline}`, { accept: [404] });
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  api.close();
});

interface Obj {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: {
    template?: { metadata?: { annotations?: Record<string, string> }; spec?: { containers?: Array<{ envFrom?: Array<{ configMapRef?: { name: string } }> }> } };
  };
  data?: Record<string, string>;
}

async function get(path: string): Promise<Obj | undefined> {
  const res = await api.request<Obj>('GET', path, { accept: [404] });
  return res.status === 404 ? undefined : res.body;
}

function written(writes: AuditEvent[], resource: string, prefix: string): AuditEvent {
  const found = writes.find((e) => e.objectRef?.resource === resource && e.objectRef.name?.startsWith(prefix) && !e.objectRef.subresource);
  assert.ok(found, `no write of ${resource}/${prefix}* in the audit log`);
  return found;
}

const kustomization = (setting: string) => `namespace: ${ns}
resources:
  - deployment.yaml
configMapGenerator:
  - name: settings
    literals:
      - mode=${setting}
`;

function files(setting: string): Record<string, string> {
  return {
    'deploy/1-base/10-namespace.yaml': namespaceYaml(ns),
    // Wave 2: a kustomize wave (its deployment.yaml is kustomize's input, not a step).
    'deploy/2-app/kustomization.yaml': kustomization(setting),
    'deploy/2-app/deployment.yaml': deploymentYaml({
      namespace: ns,
      name: 'web',
      image: 'registry.example/web:1',
      container: '        envFrom:\n          - configMapRef:\n              name: settings\n',
    }),
    // Wave 3: a plain step, then a kustomize step folder.
    'deploy/3-after/10-plain.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: ${ns}\ndata:\n  a: "1"\n`,
    'deploy/3-after/20-extra/kustomization.yaml': `namespace: ${ns}\nnamePrefix: extra-\nresources:\n  - cm.yaml\n`,
    'deploy/3-after/20-extra/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  b: "2"\n',
  };
}

describe('kustomize folders, with the real kustomize', () => {
  let url: string;

  before(async () => {
    ({ url } = await createRepo(env, 'kustomize', files('one')));
  });

  it('applies a kustomize wave and a kustomize step in order, with hashed names and config hashes', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, pipeline, url, ['--kustomize-path', kustomize]);
    assert.equal(result.code, 0, result.stderr);

    const deployment = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    assert.ok(deployment, 'the Deployment kustomize built was applied');
    const refName = deployment.spec?.template?.spec?.containers?.[0]?.envFrom?.[0]?.configMapRef?.name;
    assert.match(refName ?? '', /^settings-[a-z0-9]{10}$/, 'kustomize rewrote the reference to its hashed ConfigMap');
    const settings = await get(`/api/v1/namespaces/${ns}/configmaps/${refName}`);
    assert.equal(settings?.data?.mode, 'one');
    assert.equal(settings?.metadata.labels?.['app.kubernetes.io/managed-by'], 'doris', 'kustomize output is stamped like any object');
    const hash = deployment.spec?.template?.metadata?.annotations?.['doris.dev/config-hash'];
    assert.ok(hash, 'the Deployment carries the config hash of the ConfigMap it uses');
    assert.equal((await get(`/api/v1/namespaces/${ns}/configmaps/extra-cm`))?.data?.b, '2', 'the kustomize step folder was applied');

    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').filter((e) => e.objectRef?.namespace === ns || e.objectRef?.name === ns);
    const order = [
      [written(writes, 'namespaces', ns)],
      [written(writes, 'configmaps', 'settings-'), written(writes, 'deployments', 'web')],
      [written(writes, 'configmaps', 'plain')],
      [written(writes, 'configmaps', 'extra-cm')],
    ];
    for (let i = 1; i < order.length; i++) {
      const previousDone = Math.max(...order[i - 1]!.map((e) => Date.parse(e.stageTimestamp)));
      for (const e of order[i]!) {
        assert.ok(
          Date.parse(e.requestReceivedTimestamp) >= previousDone,
          `${e.objectRef?.resource}/${e.objectRef?.name} was written before stage ${i - 1} finished`,
        );
      }
    }

    // A changed literal: a new hashed ConfigMap, a new config hash, the Deployment rolls; the old ConfigMap is pruned.
    await pushFiles(env, url, { 'deploy/2-app/kustomization.yaml': kustomization('two') }, 'mode two');
    const second = await syncInline(env, pipeline, url, ['--kustomize-path', kustomize]);
    assert.equal(second.code, 0, second.stderr);
    const rolled = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    const newRef = rolled?.spec?.template?.spec?.containers?.[0]?.envFrom?.[0]?.configMapRef?.name;
    assert.notEqual(newRef, refName);
    assert.equal((await get(`/api/v1/namespaces/${ns}/configmaps/${newRef}`))?.data?.mode, 'two');
    assert.notEqual(rolled?.spec?.template?.metadata?.annotations?.['doris.dev/config-hash'], hash);
    assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/${refName}`), undefined, 'the old hashed ConfigMap was pruned');
  });

  it('a kustomization that fails, or that the load restrictor refuses, fails the sync naming the folder; nothing is applied', async () => {
    const cases: Array<{ change: Record<string, string>; expect: RegExp }> = [
      {
        change: { 'deploy/3-after/20-extra/kustomization.yaml': 'resources:\n  - cm.yaml\nnotAField: 1\n' },
        expect: /deploy\/3-after\/20-extra: kustomize build failed: Error: invalid Kustomization: json: unknown field "notAField"/,
      },
      {
        // Inside the repository (DORIS's own check allows it), but above the kustomization's root.
        change: {
          'deploy/3-after/20-extra/kustomization.yaml': 'configMapGenerator:\n  - name: up\n    files:\n      - ../10-plain.yaml\n',
        },
        expect: /deploy\/3-after\/20-extra: kustomize build failed: .*security; file .*10-plain\.yaml' is not in or below/,
      },
      {
        change: { 'deploy/3-after/20-extra/kustomization.yaml': 'resources:\n  - https://example.com/evil.yaml\n' },
        expect: /deploy\/3-after\/20-extra: kustomization refused: .*remote reference "https:\/\/example.com\/evil.yaml" refused/,
      },
    ];
    for (const { change, expect } of cases) {
      // A change elsewhere in the same commit must not be applied either.
      const marker = `marker-${Math.random().toString(36).slice(2, 8)}`;
      await pushFiles(env, url, {
        ...change,
        'deploy/3-after/10-plain.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: ${ns}\ndata:\n  a: "${marker}"\n`,
      });
      const mark = auditMark(env.AUDIT_LOG);
      const result = await syncInline(env, pipeline, url, ['--kustomize-path', kustomize]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, expect);
      // Other tests write as admin at the same time: only this test's namespace counts.
      const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').filter(
        (e) => (e.objectRef?.namespace === ns || e.objectRef?.name === ns) && e.objectRef?.resource !== 'events',
      );
      assert.deepEqual(
        writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`),
        [],
        'nothing of the commit was written',
      );
      assert.notEqual((await get(`/api/v1/namespaces/${ns}/configmaps/plain`))?.data?.a, marker);
    }
  });

  it('doris validate builds kustomize folders and reports kustomize’s error at the folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'doris-validate-kust-'));
    temps.push(root);
    const layout: Record<string, string> = {
      '.git/HEAD': 'ref: refs/heads/main\n',
      'deploy/1-app/kustomization.yaml': 'resources:\n  - cm.yaml\n',
      'deploy/1-app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n',
      'deploy/2-bad/kustomization.yaml': 'resources:\n  - missing.yaml\n',
      'deploy/2-bad/there.yaml': 'x: 1\n',
    };
    for (const [path, content] of Object.entries(layout)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const bad = await doris(env, ['validate', join(root, 'deploy'), '--kustomize-path', kustomize]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /deploy\/2-bad: error: kustomization refused: .*"missing.yaml" does not exist in the repository/);
    await rm(join(root, 'deploy/2-bad'), { recursive: true });
    const good = await doris(env, ['validate', join(root, 'deploy'), '--kustomize-path', kustomize]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stderr, /1 objects in 1 waves; 0 errors, 0 warnings/);
  });
});
