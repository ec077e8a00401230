/**
 * `doris run` exits 0 within 5 s of SIGTERM in every state it can be in — idle, polling
 * images, fetching git, waiting for a wave, with a webhook in flight, as a standby with only
 * its watch open — records nothing half-done, and releases the Lease so that a standby leads
 * at once. Run as the shipped ServiceAccount (least-privilege RBAC), against the real git
 * server and registry; a TCP proxy in front of them holds a request in flight on demand.
 * Each state's exit time is printed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { githubSignature } from '../../src/server/github.js';
import { startController, type CliResult, type RunningController } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { startStallProxy, type StallProxy } from '../env/stall-proxy.js';
import { createRepo, kube, loadTestEnv, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const ns = `doris-shut-${run}`;
const appNs = `e2e-shut-${run}`;
const webhookSecret = `whsec-${run}-${Math.random().toString(36).slice(2)}`;
let saKubeconfig: string;
let gitProxy: StallProxy;
let registryProxy: StallProxy;
let imagesRepo: string;
let credsFile: string;
const running: RunningController[] = [];
const exitTimes: Record<string, number> = {};

interface Status {
  lastAppliedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  history?: unknown[];
}

async function status(name: string): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/${name}`);
  return res.body.status ?? {};
}

const ready = async (name: string) => (await status(name)).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function leaseHolder(): Promise<string | undefined> {
  const res = await api.request<{ spec?: { holderIdentity?: string } }>('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/doris-leader`, {
    accept: [404],
  });
  return res.status === 404 ? undefined : res.body.spec?.holderIdentity;
}

async function metric(c: RunningController, name: string): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function controller(args: string[]): Promise<RunningController> {
  const c = startController(
    env,
    ['--namespace', ns, '--webhook-secret-file', join(env.TESTENV_DIR, `whsec-shut-${run}`), '--registry-credentials', credsFile, ...args],
    { kubeconfig: saKubeconfig, port: await freePort() },
  );
  running.push(c);
  await waitFor('controller ready', async () => (await fetch(`${c.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
  return c;
}

/** SIGTERM, and how long until the process was gone. */
async function terminate(c: RunningController, state: string): Promise<{ result: CliResult; ms: number }> {
  const sent = Date.now();
  const result = await c.stop('SIGTERM');
  const ms = Date.now() - sent;
  exitTimes[state] = ms;
  console.log(`exit after SIGTERM, ${state}: ${ms} ms`);
  assert.equal(result.code, 0, `${state}: exit code ${result.code} (signal ${result.signal})\n${result.stdout.slice(-3000)}`);
  assert.ok(ms < 5000, `${state}: exited after ${ms} ms`);
  assert.match(result.stdout, /"msg":"stopped"/, `${state}: the shutdown ran to its end`);
  return { result, ms };
}

/** The event loop drained by itself: nothing was left holding it (no forced exit). */
function drainedByItself(result: CliResult, state: string): void {
  assert.doesNotMatch(
    result.stdout,
    /exiting with work pending/,
    `${state}: something held the event loop:\n${result.stdout
      .split('\n')
      .filter((l) => l.includes('pending'))
      .join('\n')}`,
  );
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  writeFileSync(join(env.TESTENV_DIR, `whsec-shut-${run}`), webhookSecret, { mode: 0o600 });
  gitProxy = await startStallProxy(new URL(env.GIT_BASE_URL).host);
  registryProxy = await startStallProxy(env.REGISTRY);
  credsFile = join(env.TESTENV_DIR, `shut-creds-${run}.json`);
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(credsFile, JSON.stringify({ auths: { [registryProxy.host]: { auth } } }), { mode: 0o600 });

  const image = `acme/shut-${run}`;
  await pushTestImage(env, image, 'main', `shutdown ${run}`);
  const viaProxy = (url: string) => url.replace(new URL(env.GIT_BASE_URL).host, gitProxy.host);
  imagesRepo = viaProxy(
    (
      await createRepo(env, 'shut-images', {
        'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
        'deploy/2-app/170-app.yml': deploymentYaml({ namespace: appNs, name: 'app', image: `${registryProxy.host}/${image}:main` }),
      })
    ).url,
  );
  const plainRepo = viaProxy(
    (
      await createRepo(env, 'shut-plain', {
        'deploy/1-base/10-ns.yml': namespaceYaml(`${appNs}-p`),
        'deploy/1-base/120-config.yml': configMapYaml(`${appNs}-p`, 'plain', { value: 'v1' }),
      })
    ).url,
  );

  await bootstrapInstall(env, ns, imagesRepo, 'images');
  saKubeconfig = await serviceAccountKubeconfig(env, api, ns);
  await applyPipelineAsAdmin(api, ns, 'images', {
    git: { url: imagesRepo, secretRef: { name: 'doris-git' } },
    images: [{ repository: `${registryProxy.host}/${image}`, tag: 'main' }],
  });
  await applyPipelineAsAdmin(api, ns, 'plain', { git: { url: plainRepo, secretRef: { name: 'doris-git' } } });
});

afterEach(async () => {
  registryProxy.release();
  gitProxy.release();
  for (const c of running.splice(0)) await c.stop('SIGKILL');
});

after(async () => {
  console.log(`exit times after SIGTERM (ms): ${JSON.stringify(exitTimes)}`);
  await gitProxy?.close();
  await registryProxy?.close();
  await api.request('DELETE', `/api/v1/namespaces/${appNs}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${appNs}-p`, { accept: [404] });
  await removeInstall(api, ns, saKubeconfig);
  api.close();
});

describe('doris run on SIGTERM', () => {
  it('idle, with Pipelines synced (one tracking an image): exits at once and releases the Lease', async () => {
    const c = await controller(['--identity', 'idle', '--poll-interval', '10m', '--image-poll-interval', '10m']);
    await waitFor('both Pipelines synced', async () => (await ready('images')) && (await ready('plain')) && (await metric(c, 'doris_syncs_total')) >= 2, {
      timeoutMs: 60_000,
    });
    assert.equal(await leaseHolder(), 'idle');
    const { result } = await terminate(c, 'idle');
    drainedByItself(result, 'idle');
    assert.equal(await leaseHolder(), '', 'the Lease was released');
  });

  it('polling images: the poll in flight is cancelled', async () => {
    const c = await controller(['--identity', 'polling', '--poll-interval', '10m', '--image-poll-interval', '300ms']);
    await waitFor('both Pipelines synced', async () => (await metric(c, 'doris_syncs_total')) >= 2, { timeoutMs: 60_000 });
    await waitFor('an image poll done', async () => (await metric(c, 'doris_source_polls_total')) >= 3, { timeoutMs: 30_000 });
    registryProxy.stall();
    await waitFor('an image poll held at the registry', () => registryProxy.held > 0, { timeoutMs: 10_000, intervalMs: 20 });
    const { result } = await terminate(c, 'polling images');
    drainedByItself(result, 'polling images');
    assert.equal(await leaseHolder(), '');
  });

  it('fetching git: exits without waiting for git and records nothing', async () => {
    const c = await controller(['--identity', 'fetching', '--poll-interval', '500ms', '--image-poll-interval', '10m']);
    await waitFor('both Pipelines synced', async () => (await metric(c, 'doris_syncs_total')) >= 2, { timeoutMs: 60_000 });
    const before = [await status('images'), await status('plain')];
    gitProxy.stall();
    await waitFor('a git request held at the server', () => gitProxy.held > 0, { timeoutMs: 10_000, intervalMs: 20 });
    await terminate(c, 'fetching git');
    assert.equal(await leaseHolder(), '');
    const afterwards = [await status('images'), await status('plain')];
    for (const [i, s] of afterwards.entries()) {
      assert.equal(s.history?.length, before[i]!.history?.length, 'no sync recorded');
      assert.deepEqual(
        s.conditions?.find((x) => x.type === 'Ready'),
        before[i]!.conditions?.find((x) => x.type === 'Ready'),
        'Ready unchanged',
      );
    }
  });

  it('waiting for a wave: the wait stops, nothing is recorded', async () => {
    const { url } = await createRepo(env, 'shut-wave', {
      'deploy/1-app/170-stuck.yml': deploymentYaml({
        namespace: appNs,
        name: 'stuck',
        image: 'registry.example/stuck:1',
        pod: '      nodeSelector: {nowhere: "true"}\n',
      }),
      'deploy/2-after/120-after.yml': configMapYaml(appNs, 'after', { value: 'x' }),
    });
    await applyPipelineAsAdmin(api, ns, 'wave', { git: { url, secretRef: { name: 'doris-git' } } });
    try {
      const c = await controller(['--identity', 'waiting', '--poll-interval', '10m', '--image-poll-interval', '10m']);
      await waitFor('the sync waiting on wave 1', async () => (await status('wave')).conditions?.some((x) => x.type === 'Reconciling' && x.status === 'True'), {
        timeoutMs: 60_000,
      });
      const before = await status('wave');
      const { result } = await terminate(c, 'waiting for a wave');
      drainedByItself(result, 'waiting for a wave');
      assert.match(result.stdout, /sync interrupted; nothing recorded/);
      const afterwards = await status('wave');
      assert.equal(afterwards.lastAppliedCommit, undefined);
      assert.equal(afterwards.history?.length ?? 0, before.history?.length ?? 0, 'no sync recorded half-done');
      assert.equal((await api.request('GET', `/api/v1/namespaces/${appNs}/configmaps/after`, { accept: [404] })).status, 404, 'the next wave never started');
      assert.equal(await leaseHolder(), '');
    } finally {
      await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/wave`, { accept: [404] });
    }
  });

  it('a webhook in flight: answered before the exit; a sender that stalls is cut off in time', async () => {
    const c = await controller(['--identity', 'webhook', '--poll-interval', '10m', '--image-poll-interval', '10m']);
    await waitFor('both Pipelines synced', async () => (await metric(c, 'doris_syncs_total')) >= 2, { timeoutMs: 60_000 });
    const body = JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: imagesRepo } });
    const port = Number(new URL(c.url).port);
    // `Expect: 100-continue`: the server answers 100 once it has the request: it is in flight.
    const open = () => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.on('error', () => {});
      socket.write(
        `POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n` +
          `X-Hub-Signature-256: ${githubSignature(webhookSecret, Buffer.from(body))}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
      );
      return { socket, closed, received: () => received };
    };
    const finishing = open();
    const stalling = open();
    await waitFor('both requests in flight', () => finishing.received().includes('100 Continue') && stalling.received().includes('100 Continue'), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const sent = Date.now();
    const exited = c.stop('SIGTERM');
    await waitFor('shutdown begun', () => c.logs().includes('shutting down'), { timeoutMs: 5_000, intervalMs: 10 });
    finishing.socket.end(body);
    await finishing.closed;
    const answer = finishing
      .received()
      .split('\r\n\r\n')
      .find((part) => part.startsWith('HTTP/1.1 5') || part.startsWith('HTTP/1.1 2'));
    assert.match(answer ?? '', /^HTTP\/1\.1 503/, `the request in flight got its answer: ${finishing.received()}`);
    assert.match(finishing.received(), /shutting down/);
    const result = await exited;
    const ms = Date.now() - sent;
    exitTimes['webhook in flight'] = ms;
    console.log(`exit after SIGTERM, webhook in flight (one sender stalled): ${ms} ms`);
    assert.equal(result.code, 0);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
    await stalling.closed;
    drainedByItself(result, 'webhook in flight');
    assert.match(result.stdout, /"connectionsCut":true/, 'the stalled sender was cut off');
  });

  it('a standby with its watch open exits at once; a leader that exits hands over at once', async () => {
    const lease = ['--lease-duration', '15s', '--lease-renew', '1s', '--poll-interval', '10m', '--image-poll-interval', '10m'];
    const a = await controller([...lease, '--identity', 'replica-a']);
    await waitFor('replica a leading', async () => (await metric(a, 'doris_leader')) === 1, { timeoutMs: 30_000 });
    const standby = await controller([...lease, '--identity', 'replica-b']);
    assert.equal(await metric(standby, 'doris_leader'), 0);
    const { result: standbyExit } = await terminate(standby, 'standby (watch open)');
    drainedByItself(standbyExit, 'standby (watch open)');
    assert.equal(await leaseHolder(), 'replica-a', 'a standby leaves the Lease alone');

    const b = await controller([...lease, '--identity', 'replica-b']);
    const { result } = await terminate(a, 'leader handing over');
    drainedByItself(result, 'leader handing over');
    const exited = Date.now();
    await waitFor('replica b leading', async () => (await metric(b, 'doris_leader')) === 1, { timeoutMs: 15_000, intervalMs: 50 });
    const takeover = Date.now() - exited;
    console.log(`standby leading ${takeover} ms after the leader exited (Lease duration 15 s, renew 1 s)`);
    assert.ok(takeover < 3_000, `took over after ${takeover} ms: the Lease was not released`);
    await terminate(b, 'leader after takeover');
  });
});
