/**
 * The Pipeline CRD against the real API server and the real kubectl: its schema (generated
 * from the controller's zod schema) is what gets installed; `kubectl apply` of a misspelt
 * field (`spec.git.branh`) or a value outside an enum is refused and stores nothing; the API
 * server fills in the defaults; `kubectl explain pipeline.spec.git` shows every field with
 * its description.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipelineCrd, pipelineCrdName, pipelineSpecOpenApiSchema, type SchemaNode } from '../../src/api/crd.js';
import { HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import type { KubeObject } from '../../src/render/types.js';
import { crdMatches, ensurePipelineCrd } from '../../src/status/store.js';
import { execFileP, waitFor } from '../env/proc.js';
import { kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const ns = `e2e-crd-${process.pid}`;

async function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = input === undefined ? undefined : join(env.TESTENV_DIR, `crd-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  if (file) writeFileSync(file, input ?? '');
  try {
    const { stdout, stderr } = await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, ...args, ...(file ? ['-f', file] : [])]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const pipelineYaml = (name: string, spec: string) =>
  `apiVersion: doris.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

async function exists(name: string): Promise<boolean> {
  const res = await api.request('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/${name}`, { accept: [404] });
  return res.status !== 404;
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  await ensurePipelineCrd(await HttpKubeClient.connect(env.KUBECONFIG));
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
});

after(async () => {
  await api?.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
});

describe('the Pipeline CRD on a real API server', () => {
  it('is installed with the schema generated from the zod spec', async () => {
    const installed = await api.request<KubeObject>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${pipelineCrdName}`);
    assert.ok(crdMatches(installed.body, pipelineCrd() as KubeObject), 'the installed CRD is this version’s');
  });

  it('kubectl apply refuses spec.git.branh and stores nothing', async () => {
    const manifest = pipelineYaml('typo', 'git:\n  url: https://git.example.com/acme/fleet.git\n  branh: main');
    const csa = await kubectl(['apply'], manifest);
    assert.notEqual(csa.code, 0, csa.stdout);
    assert.match(csa.stderr, /unknown field "spec\.git\.branh"/);
    const ssa = await kubectl(['apply', '--server-side'], manifest);
    assert.notEqual(ssa.code, 0, ssa.stdout);
    assert.match(ssa.stderr, /\.spec\.git\.branh: field not declared in schema/);
    assert.equal(await exists('typo'), false);
  });

  it('kubectl apply refuses a value outside an enum and a malformed duration, naming the field', async () => {
    const replay = await kubectl(['apply'], pipelineYaml('enum', 'git:\n  url: https://git.example.com/a.git\nreplay: sometimes'));
    assert.notEqual(replay.code, 0);
    assert.match(replay.stderr, /spec\.replay: Unsupported value: "sometimes": supported values: "latest", "each-commit"/);
    const interval = await kubectl(['apply'], pipelineYaml('duration', 'git:\n  url: https://git.example.com/a.git\n  interval: "10"'));
    assert.notEqual(interval.code, 0);
    assert.match(interval.stderr, /spec\.git\.interval: Invalid value: "10"/);
    assert.equal(await exists('enum'), false);
    assert.equal(await exists('duration'), false);
  });

  it('fills in the defaults of the zod schema', async () => {
    const applied = await kubectl(['apply', '-o', 'json'], pipelineYaml('defaults', 'git:\n  url: https://git.example.com/acme/fleet.git'));
    assert.equal(applied.code, 0, applied.stderr);
    const spec = (JSON.parse(applied.stdout) as { spec: Record<string, Record<string, unknown>> }).spec;
    assert.equal(spec.git?.branch, 'main');
    assert.equal(spec.git?.path, 'deploy');
    assert.equal(spec.git?.interval, '1m');
    assert.deepEqual(spec.wait, { timeout: '5m' });
    assert.equal(spec.replay, 'latest');
    assert.equal(spec.suspend, false);
  });

  it('kubectl explain pipeline.spec.git shows every field with its description', async () => {
    const git = ((pipelineSpecOpenApiSchema().properties as Record<string, SchemaNode>).git as SchemaNode).properties as Record<string, SchemaNode>;
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    // The API server publishes a changed CRD's OpenAPI a moment after it is Established.
    const out = await waitFor(
      'kubectl explain to show every git field',
      async () => {
        const res = await kubectl(['explain', 'pipeline.spec.git']);
        return res.code === 0 && Object.keys(git).every((field) => new RegExp(`^\\s+${field}\\s+<`, 'm').test(res.stdout)) ? res.stdout : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    for (const [field, schema] of Object.entries(git)) {
      assert.ok(schema.description, `${field} has a description`);
      assert.ok(flat(out).includes(flat(schema.description as string)), `kubectl explain shows the description of ${field}:\n${out}`);
    }
    assert.match(out, /url\s+<string> -required-/);
  });
});
