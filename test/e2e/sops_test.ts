/**
 * SOPS-encrypted Secrets against the real control plane and git server, with the real `sops`
 * and an age key made for this run by `age-keygen` (both built from Go modules by
 * test/env/tools.ts; the key lives in memory and in the test's Secret, never in a file). DORIS
 * runs as the ServiceAccount `doris bootstrap` installs: it reads the key from
 * `spec.decryption.secretRef` with its own rights. Proven: without the key the sync fails
 * naming the file and applies nothing; with it the Secret is applied and its plaintext appears
 * nowhere in DORIS's output, the Pipeline's status, its Events or `doris status`; a tampered
 * file fails its MAC check, naming the file; `doris validate` warns without the key; `doris plan`
 * and `doris diff` show the change masked; the controller (`doris run`) applies a rotated value
 * and logs no plaintext.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris, startController, type CliResult } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';
import { ensureTools } from '../env/tools.js';

let env: TestEnv;
let api: KubeHttp;
let tools: Awaited<ReturnType<typeof ensureTools>>;
const run = `${process.pid}`;
const ctl = `e2e-sops-ctl-${run}`;
const app = `e2e-sops-app-${run}`;
const pipeline = 'secrets';
/** The value that must never be seen outside the cluster's Secret. */
const plaintext = `plain-${randomBytes(12).toString('hex')}`;
let ageKey = '';
let recipient = '';
let kubeconfig: string;
let url: string;

/** Runs a tool with `input` on stdin; the environment given, nothing else. */
function tool(binary: string, args: string[], input: string, toolEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { env: { HOME: '/nonexistent', ...toolEnv } }, (error, stdout, stderr) =>
      error ? reject(new Error(`${binary} failed: ${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

function encrypt(yaml: string): Promise<string> {
  return tool(
    tools.sops,
    [
      'encrypt',
      '--age',
      recipient,
      '--encrypted-regex',
      '^(data|stringData)$',
      '--input-type',
      'yaml',
      '--output-type',
      'yaml',
      '--filename-override',
      's.yaml',
    ],
    yaml,
  );
}

const secretYaml = (value: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ${app}\ntype: Opaque\nstringData:\n  password: ${value}\n`;

function sync(): Promise<CliResult> {
  return doris(env, ['--kubeconfig', kubeconfig, '--namespace', ctl, 'sync', '--once', '--pipeline', pipeline, '--sops-path', tools.sops]);
}

interface Obj {
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

async function get(path: string): Promise<Obj | undefined> {
  const res = await api.request<Obj>('GET', path, { accept: [404] });
  return res.status === 404 ? undefined : res.body;
}

/** Everything a user can see of the Pipeline outside the cluster's Secret: status, Events, `doris status`. */
async function visible(): Promise<string> {
  const pipelineObject = await api.request('GET', `/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/${pipeline}`);
  const events = await api.request('GET', `/api/v1/namespaces/${ctl}/events`);
  const status = await doris(env, ['--namespace', ctl, '--output', 'json', 'status', pipeline]);
  return JSON.stringify(pipelineObject.body) + JSON.stringify(events.body) + status.stdout + status.stderr;
}

function assertHidden(text: string, where: string): void {
  assert.ok(!text.includes(plaintext), `the plaintext appears in ${where}`);
  assert.ok(!text.includes(Buffer.from(plaintext).toString('base64')), `the plaintext (base64) appears in ${where}`);
  assert.ok(!text.includes(ageKey), `the age key appears in ${where}`);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  tools = await ensureTools();
  // For commands without a --sops-path flag (doris plan); doris sync is given the flag too.
  process.env.DORIS_SOPS_PATH = tools.sops;
  // A fresh key for this run only: printed to a pipe, kept in memory.
  ageKey = (await tool(tools['age-keygen'], [], '')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-')) ?? '';
  assert.ok(ageKey, 'age-keygen printed a key');
  recipient = (await tool(tools['age-keygen'], ['-y'], `${ageKey}\n`)).trim();
  assert.match(recipient, /^age1[0-9a-z]+$/);

  ({ url } = await createRepo(env, 'sops', {
    'deploy/1-app/10-namespace.yaml': namespaceYaml(app),
    'deploy/1-app/60-secret.yaml': await encrypt(secretYaml(plaintext)),
    'deploy/1-app/170-web.yaml': deploymentYaml({
      namespace: app,
      name: 'web',
      image: 'registry.example/web:1',
      container: '        envFrom:\n          - secretRef:\n              name: db\n',
    }),
  }));
  await bootstrapInstall(env, ctl, url, pipeline);
  kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
});

after(async () => {
  await removeInstall(api, ctl, kubeconfig, [app]);
  api.close();
});

describe('SOPS-encrypted Secrets, with the real sops and a fresh age key', () => {
  it('without a key the sync fails naming the file, and nothing is applied', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await sync();
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /deploy\/1-app\/60-secret\.yaml: SOPS-encrypted file and no age key to decrypt it \(spec\.decryption\.secretRef, key age\.agekey\)/,
    );
    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), serviceAccountUser(ctl)).filter(
      (e) => !['pipelines', 'events'].includes(e.objectRef?.resource ?? ''),
    );
    assert.deepEqual(
      writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`),
      [],
      'nothing of the commit was written',
    );
    assert.equal(await get(`/api/v1/namespaces/${app}`), undefined);
    const ready = (await get(`/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/${pipeline}`))?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'BuildFailed');
    assert.match(ready?.message ?? '', /60-secret\.yaml/);
  });

  it('with the key (spec.decryption) the Secret is applied, and its plaintext appears nowhere else', async () => {
    await api.request('POST', `/api/v1/namespaces/${ctl}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sops-age' }, stringData: { 'age.agekey': `${ageKey}\n` } },
    });
    await applyPipelineAsAdmin(api, ctl, pipeline, { decryption: { provider: 'sops', secretRef: { name: 'sops-age' } } });
    const result = await sync();
    assert.equal(result.code, 0, result.stderr);

    const secret = await get(`/api/v1/namespaces/${app}/secrets/db`);
    assert.equal(Buffer.from(secret?.data?.password ?? '', 'base64').toString('utf8'), plaintext, 'the decrypted value was applied');
    const web = await get(`/apis/apps/v1/namespaces/${app}/deployments/web`);
    assert.ok(web?.spec?.template?.metadata?.annotations?.['doris.dev/config-hash'], 'the Deployment using the Secret carries a config hash');

    assertHidden(result.stdout + result.stderr, 'doris sync output');
    assertHidden(await visible(), 'status, Events or doris status');
  });

  it('a tampered file fails its MAC check, naming the file; the applied Secret stays as it was', async () => {
    const good = await encrypt(secretYaml(`${plaintext}-v2`));
    // The name is not encrypted but it is covered by the MAC.
    await pushFiles(env, url, { 'deploy/1-app/60-secret.yaml': good.replace('name: db', 'name: dc') }, 'tampered');
    const result = await sync();
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /deploy\/1-app\/60-secret\.yaml: SOPS decryption failed: .*MAC mismatch/);
    assert.equal(await get(`/api/v1/namespaces/${app}/secrets/dc`), undefined);
    const secret = await get(`/api/v1/namespaces/${app}/secrets/db`);
    assert.equal(Buffer.from(secret?.data?.password ?? '', 'base64').toString('utf8'), plaintext);
    assertHidden(result.stdout + result.stderr, 'doris sync output');
    assertHidden(await visible(), 'status, Events or doris status');
  });

  it('doris validate recognises an encrypted file without the key: a warning, not an error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'doris-validate-sops-'));
    try {
      await mkdir(join(root, '.git'));
      await mkdir(join(root, 'deploy/1-app'), { recursive: true });
      await writeFile(join(root, 'deploy/1-app/60-secret.yaml'), await encrypt(secretYaml(plaintext)));
      const result = await doris(env, ['validate', join(root, 'deploy')]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /deploy\/1-app\/60-secret\.yaml: warning: SOPS-encrypted \(age\): not decrypted without a key/);
      assertHidden(result.stdout + result.stderr, 'doris validate output');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('doris plan and doris diff with the key show the change without the plaintext', async () => {
    await pushFiles(env, url, { 'deploy/1-app/60-secret.yaml': await encrypt(secretYaml(`${plaintext}-v3`)) }, 'rotate');
    const plan = await doris(env, ['--kubeconfig', kubeconfig, '--namespace', ctl, 'plan', '--pipeline', pipeline]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /update\s+Secret e2e-sops-app-\d+\/db/);
    assertHidden(plan.stdout + plan.stderr, 'doris plan output');

    // doris diff (exit 1: changes): the shipped account may not read the Secret, so it says only
    // that it changed; an admin, who may, sees which field changed with the values masked.
    const diff = await doris(env, ['--kubeconfig', kubeconfig, '--namespace', ctl, 'diff', '--pipeline', pipeline]);
    assert.equal(diff.code, 1, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /Secret e2e-sops-app-\d+\/db changed/);
    assertHidden(diff.stdout + diff.stderr, 'doris diff output');
    const adminDiff = await doris(env, ['--namespace', ctl, 'diff', '--pipeline', pipeline]);
    assert.equal(adminDiff.code, 1, adminDiff.stdout + adminDiff.stderr);
    assert.match(adminDiff.stdout, /~ data\.password: "\*\*\*" -> "\*\*\*"/);
    assertHidden(adminDiff.stdout + adminDiff.stderr, 'doris diff output (admin)');
  });
  it('the controller (doris run, as the shipped account) applies a new encrypted value, and logs no plaintext', async () => {
    const controller = startController(env, ['--namespace', ctl, '--poll-interval', '1s'], { kubeconfig, port: await freePort() });
    try {
      const rotated = `${plaintext}-v4`;
      await pushFiles(env, url, { 'deploy/1-app/60-secret.yaml': await encrypt(secretYaml(rotated)) }, 'rotate again');
      await waitFor(
        'the rotated value applied by the controller',
        async () => Buffer.from((await get(`/api/v1/namespaces/${app}/secrets/db`))?.data?.password ?? '', 'base64').toString('utf8') === rotated,
        { timeoutMs: 90_000 },
      );
      assert.equal(controller.child.exitCode, null, controller.logs().slice(-2000));
      assertHidden(controller.logs(), 'the controller’s logs');
      assertHidden(await visible(), 'status, Events or doris status');
    } finally {
      const stopped = await controller.stop('SIGTERM');
      assertHidden(stopped.stdout, 'the controller’s logs');
    }
  });
});
