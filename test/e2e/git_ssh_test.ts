/**
 * git over SSH against the test environment's real sshd (Debian's openssh-server, see
 * test/env/sshd.ts): a Pipeline following `$GIT_SSH_BASE_URL/NAME.git` syncs, with the key
 * and known_hosts from flags and from a Secret; an unknown host key, a changed host key and
 * a refused identity each fail with a message naming the host and apply nothing; the key
 * never appears in output, status or Events, and no key file is left behind. `doris bootstrap`
 * stores the key and known_hosts in the Secret, and the controller, running as the shipped
 * ServiceAccount, follows the repository over SSH.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { doris, type CliResult, type RunningController, startController } from '../env/doris.js';
import { applyPipelineAsAdmin, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { generateKey, knownHostsLine } from '../env/sshd.js';
import { createRepo, kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let scratch: string;
let workDir: string;
const run = `${process.pid}-${Date.now().toString(36)}`;
const controllerNs = 'doris-system';
const pipelines: string[] = [];
const namespaces: string[] = [];
const secrets: string[] = [];
const outputs: CliResult[] = [];

/** `ssh://user@127.0.0.1:PORT/dir` -> `[127.0.0.1]:PORT`, as ssh names the host. */
function sshHost(): string {
  const url = new URL(env.GIT_SSH_BASE_URL);
  return `[${url.hostname}]:${url.port}`;
}

function sshPort(): number {
  return Number(new URL(env.GIT_SSH_BASE_URL).port);
}

/** A repository with one ConfigMap in its own namespace; its URL over SSH. */
async function sshRepo(label: string): Promise<{ url: string; commit: string; ns: string }> {
  const ns = `ssh-${label}-${run}`;
  namespaces.push(ns);
  const { url, commit } = await createRepo(env, `ssh-${label}`, {
    'deploy/1-app/10-ns.yaml': namespaceYaml(ns),
    'deploy/1-app/20-cm.yaml': configMapYaml(ns, 'over-ssh', { via: 'ssh' }),
  });
  const name = url.slice(url.lastIndexOf('/') + 1);
  return { url: `${env.GIT_SSH_BASE_URL}/${name}`, commit, ns };
}

async function sync(name: string, url: string, key: string, knownHosts: string): Promise<CliResult> {
  pipelines.push(name);
  const result = await doris(env, [
    '--work-dir',
    workDir,
    'sync',
    '--once',
    '--repo',
    url,
    '--name',
    name,
    '--ssh-key-file',
    key,
    '--known-hosts-file',
    knownHosts,
  ]);
  outputs.push(result);
  return result;
}

async function configMapExists(ns: string): Promise<boolean> {
  return (await api.request('GET', `/api/v1/namespaces/${ns}/configmaps/over-ssh`, { accept: [404] })).status === 200;
}

interface Status {
  lastAppliedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

async function pipelineJson(name: string): Promise<{ status?: Status }> {
  return (await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`)).body;
}

/** The lines of base64 inside the test's private key: none may appear anywhere DORIS writes. */
function keyMaterial(): string[] {
  return readFileSync(env.GIT_SSH_KEY, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'));
}

before(async () => {
  env = loadTestEnv();
  assert.ok(env.GIT_SSH_BASE_URL && env.GIT_SSH_KEY && env.GIT_SSH_KNOWN_HOSTS, 'the environment has no sshd: restart it (npm run testenv -- down; up)');
  api = await kube(env);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: controllerNs } }, accept: [409] });
  scratch = mkdtempSync(join(tmpdir(), 'doris-ssh-test-'));
  workDir = join(scratch, 'work');
});

after(async () => {
  for (const name of pipelines) await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`, { accept: [404] });
  for (const name of secrets) await api.request('DELETE', `/api/v1/namespaces/${controllerNs}/secrets/${name}`, { accept: [404] });
  for (const ns of namespaces) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('git over SSH', () => {
  it('a Pipeline over ssh:// syncs with --ssh-key-file and --known-hosts-file', async () => {
    const repo = await sshRepo('flags');
    const name = `ssh-flags-${run}`;
    const result = await sync(name, repo.url, env.GIT_SSH_KEY, env.GIT_SSH_KNOWN_HOSTS);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.ok(await configMapExists(repo.ns), 'the ConfigMap fetched over SSH was applied');
    assert.equal((await pipelineJson(name)).status?.lastAppliedCommit, repo.commit);
  });

  it('a Pipeline whose Secret holds identity and known_hosts syncs (doris sync --pipeline)', async () => {
    const repo = await sshRepo('secret');
    const name = `ssh-secret-${run}`;
    const secret = `ssh-${run}`;
    secrets.push(secret);
    pipelines.push(name);
    await api.request('POST', `/api/v1/namespaces/${controllerNs}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret },
        stringData: { identity: readFileSync(env.GIT_SSH_KEY, 'utf8'), known_hosts: readFileSync(env.GIT_SSH_KNOWN_HOSTS, 'utf8') },
      },
    });
    await applyPipelineAsAdmin(api, controllerNs, name, { git: { url: repo.url, secretRef: { name: secret } } });
    const result = await doris(env, ['--work-dir', workDir, 'sync', '--once', '--pipeline', name]);
    outputs.push(result);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.ok(await configMapExists(repo.ns));
    assert.equal((await pipelineJson(name)).status?.lastAppliedCommit, repo.commit);
  });

  const failures: Array<{ label: string; title: string; files: () => Promise<{ key: string; knownHosts: string }>; message: RegExp }> = [
    {
      label: 'unknown',
      title: 'an unknown host key',
      // known_hosts vouches for another server only.
      files: async () => {
        const other = await generateKey(join(scratch, 'other_host'), 'other');
        const knownHosts = join(scratch, 'known_hosts_unknown');
        writeFileSync(knownHosts, knownHostsLine(1, other));
        return { key: env.GIT_SSH_KEY, knownHosts };
      },
      message: /host key of \[127\.0\.0\.1\]:\d+ is not in known_hosts; refusing to connect/,
    },
    {
      label: 'changed',
      title: 'a changed host key',
      // known_hosts names this server with another key: a server that was swapped or re-keyed.
      files: async () => {
        const impostor = await generateKey(join(scratch, 'impostor_host'), 'impostor');
        const knownHosts = join(scratch, 'known_hosts_changed');
        writeFileSync(knownHosts, knownHostsLine(sshPort(), impostor));
        return { key: env.GIT_SSH_KEY, knownHosts };
      },
      message: /host key of \[127\.0\.0\.1\]:\d+ has CHANGED/,
    },
    {
      label: 'identity',
      title: 'a wrong identity',
      files: async () => {
        const key = join(scratch, 'stranger_ed25519');
        await generateKey(key, 'stranger');
        return { key, knownHosts: env.GIT_SSH_KNOWN_HOSTS };
      },
      message: /ssh: \[127\.0\.0\.1\]:\d+ refused the SSH identity/,
    },
  ];

  for (const failure of failures) {
    it(`${failure.title} fails naming the host; nothing is applied`, async () => {
      const repo = await sshRepo(failure.label);
      const name = `ssh-${failure.label}-${run}`;
      const { key, knownHosts } = await failure.files();
      const result = await sync(name, repo.url, key, knownHosts);
      assert.equal(result.code, 1, result.stderr + result.stdout);
      assert.match(result.stdout + result.stderr, failure.message);
      assert.ok((result.stdout + result.stderr).includes(sshHost()), 'the message names the host');
      assert.equal(await configMapExists(repo.ns), false, 'nothing was applied');
      const ready = (await pipelineJson(name)).status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'False');
      assert.equal(ready?.reason, 'ArtifactFailed');
      assert.match(ready?.message ?? '', failure.message);
    });
  }

  it('doris bootstrap stores identity and known_hosts; the controller, as the shipped ServiceAccount, syncs over SSH', async () => {
    const repo = await sshRepo('bootstrap');
    const ns = `doris-ssh-${run}`;
    let kubeconfig: string | undefined;
    let controller: RunningController | undefined;
    try {
      const result = await doris(env, [
        '--namespace',
        ns,
        'bootstrap',
        '--repo',
        repo.url,
        '--name',
        'main',
        '--interval',
        '1h',
        '--ssh-key-file',
        env.GIT_SSH_KEY,
        '--known-hosts-file',
        env.GIT_SSH_KNOWN_HOSTS,
        '--no-controller',
      ]);
      outputs.push(result);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const secret = (await api.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/secrets/doris-git`)).body;
      assert.deepEqual(Object.keys(secret.data).sort(), ['identity', 'known_hosts'], 'the SSH credentials, and no token beside them');
      assert.equal(Buffer.from(secret.data.known_hosts!, 'base64').toString('utf8'), readFileSync(env.GIT_SSH_KNOWN_HOSTS, 'utf8'));
      const pipeline = (
        await api.request<{ spec: { git: { url: string; secretRef?: { name: string } } } }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/main`)
      ).body;
      assert.deepEqual(pipeline.spec.git.secretRef, { name: 'doris-git' });
      kubeconfig = await serviceAccountKubeconfig(env, api, ns);
      controller = startController(env, ['--namespace', ns, '--poll-interval', '1s', '--work-dir', join(scratch, 'controller')], {
        kubeconfig,
        port: await freePort(),
      });
      const applied = await waitFor(
        'the controller applied the commit fetched over SSH',
        async () => {
          const status = (await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/main`)).body.status;
          return status?.lastAppliedCommit === repo.commit ? status : undefined;
        },
        { timeoutMs: 90_000 },
      );
      assert.equal(applied.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
      assert.ok(await configMapExists(repo.ns));
      const logs = controller.logs();
      for (const line of keyMaterial()) assert.ok(!logs.includes(line), 'a line of the private key appeared in the controller log');
    } finally {
      await controller?.stop('SIGTERM');
      await removeInstall(api, ns, kubeconfig);
    }
  });

  it('no key material in output, status or Events; no key file is left in the work folder', async () => {
    const material = keyMaterial();
    assert.ok(material.length > 0);
    const seen: string[] = outputs.map((o) => o.stdout + o.stderr);
    for (const name of pipelines) seen.push(JSON.stringify(await pipelineJson(name)));
    const events = await api.request<{ items: Array<{ involvedObject: { name: string }; message: string }> }>(
      'GET',
      `/api/v1/namespaces/${controllerNs}/events`,
    );
    const ours = events.body.items.filter((e) => pipelines.includes(e.involvedObject.name));
    assert.ok(ours.length >= 4, `Events were recorded for the SSH Pipelines (${ours.length})`);
    seen.push(...ours.map((e) => e.message));
    for (const text of seen) {
      for (const line of material) assert.ok(!text.includes(line), 'a line of the private key appeared');
      assert.doesNotMatch(text, /PRIVATE KEY/);
    }
    const leftovers = (dir: string): string[] =>
      existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [e.name, ...leftovers(join(dir, e.name))] : [e.name])) : [];
    // The CLI's work folder and the controller's, both under `scratch`.
    assert.ok(leftovers(workDir).length > 0, 'the work folder was used');
    const names = leftovers(scratch);
    assert.deepEqual(
      names.filter((n) => n.startsWith('.ssh-') || n === 'identity' || n === 'known_hosts'),
      [],
    );
  });
});
