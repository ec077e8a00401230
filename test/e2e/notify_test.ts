/**
 * Notifications (spec.notify) from `doris sync --once` against the real cluster and git
 * server, received by HTTP servers this test runs on 127.0.0.1: a generic receiver that checks
 * the body and the HMAC signature, a Slack-style incoming webhook, and a GitHub statuses API
 * (`POST /repos/{owner}/{repo}/statuses/{sha}`). A change is announced once; a no-op resync
 * is not; a failure is announced once however often it repeats; a receiver that fails at first
 * gets the notification on a retry; a receiver that is down never fails or holds up a sync;
 * neither the signing key nor the token appears in output, status or Events. And a real
 * controller, running as the shipped ServiceAccount and retrying a failing commit every
 * second, sends that failure once.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { verify } from '../../src/notify/sign.js';
import { type CliResult, doris, type RunningController, startController } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}-${Date.now().toString(36)}`;
const controllerNs = 'doris-system';
const signingKey = `sign-${run}-9f8e7d`;
const githubToken = `ghp_${run.replace(/-/g, '')}abcdef0123456789`;
const pipelines: string[] = [];
const namespaces: string[] = [];
const secrets = [`notify-generic-${run}`, `notify-github-${run}`, `notify-registry-${run}`];
const outputs: CliResult[] = [];

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** An HTTP receiver on 127.0.0.1 that records every request and answers with `answer` (default 200). */
async function receiver(answer: (request: Received, index: number) => { status: number; body?: string } = () => ({ status: 200 })) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(request);
      const { status, body } = answer(request, received.length - 1);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

type Receiver = Awaited<ReturnType<typeof receiver>>;
const receivers: Receiver[] = [];

/** The GitHub statuses API as GitHub shapes it: 201 with the status, 422 for a malformed one. */
function githubAnswer(request: Received): { status: number; body?: string } {
  if (request.method !== 'POST' || !/^\/api\/v3\/repos\/acme\/fleet\/statuses\/[0-9a-f]{40}$/.test(request.path)) return { status: 404 };
  if (request.headers.authorization !== `Bearer ${githubToken}`) return { status: 401 };
  const body = JSON.parse(request.body) as Record<string, unknown>;
  if (!['success', 'failure', 'error', 'pending'].includes(body.state as string) || typeof body.context !== 'string') return { status: 422 };
  return { status: 201, body: JSON.stringify({ id: 1, ...body }) };
}

async function sync(name: string): Promise<CliResult> {
  const started = Date.now();
  const result = await doris(env, ['sync', '--once', '--pipeline', name]);
  outputs.push(result);
  return Object.assign(result, { ms: Date.now() - started });
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: controllerNs } }, accept: [409] });
  await api.request('POST', `/api/v1/namespaces/${controllerNs}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: secrets[0] }, stringData: { secret: signingKey } },
  });
  await api.request('POST', `/api/v1/namespaces/${controllerNs}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: secrets[1] }, stringData: { token: githubToken } },
  });
});

after(async () => {
  for (const name of pipelines) await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`, { accept: [404] });
  for (const name of secrets) await api.request('DELETE', `/api/v1/namespaces/${controllerNs}/secrets/${name}`, { accept: [404] });
  for (const ns of namespaces) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  for (const r of receivers) await r.close();
  api.close();
});

describe('notifications from doris sync --once', () => {
  let generic: Receiver;
  let slack: Receiver;
  let github: Receiver;
  let repoUrl: string;
  let first: string;
  let broken: string;
  const name = `notify-${run}`;
  const ns = `notify-${run}`;

  before(async () => {
    generic = await receiver();
    slack = await receiver();
    github = await receiver(githubAnswer);
    receivers.push(generic, slack, github);
    namespaces.push(ns);
    const repo = await createRepo(env, 'notify', {
      'deploy/1-app/10-ns.yaml': namespaceYaml(ns),
      'deploy/1-app/20-cm.yaml': configMapYaml(ns, 'settings', { level: 'one' }),
    });
    repoUrl = repo.url;
    first = repo.commit;
    pipelines.push(name);
    await applyPipelineAsAdmin(api, controllerNs, name, {
      git: { url: repoUrl },
      notify: [
        { type: 'generic', url: `${generic.url}/doris`, secretRef: { name: secrets[0] } },
        { type: 'slack', url: `${slack.url}/services/T000/B000/XXXX` },
        {
          type: 'github',
          url: 'https://github.com/acme/fleet',
          apiUrl: `${github.url}/api/v3`,
          targetUrl: 'https://doris.example/pipelines/notify',
          secretRef: { name: secrets[1] },
        },
      ],
    });
  });

  it('a sync that applies a commit: a signed generic body with the full SHA, a Slack message, a GitHub success status', async () => {
    const result = await sync(name);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    // `sync --once` waited for delivery before it exited: everything has arrived.
    assert.equal(generic.received.length, 1, JSON.stringify(generic.received));
    const request = generic.received[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/doris');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.ok(verify(request.body, signingKey, request.headers['x-doris-signature'] as string), 'X-Doris-Signature is the HMAC-SHA256 of the body');
    assert.ok(!verify(request.body, 'another key', request.headers['x-doris-signature'] as string));
    const body = JSON.parse(request.body);
    assert.equal(body.kind, 'SyncSucceeded');
    assert.equal(body.commit, first, 'the full commit SHA');
    assert.deepEqual(body.pipeline, { namespace: controllerNs, name });
    assert.equal(body.reason, 'Succeeded');
    assert.equal(body.counts.created, 2);

    assert.equal(slack.received.length, 1);
    assert.equal(slack.received[0]!.path, '/services/T000/B000/XXXX');
    const text = JSON.parse(slack.received[0]!.body).text as string;
    assert.match(text, new RegExp(`\\*default/${name}\\* SyncSucceeded \`${first.slice(0, 12)}\``));

    assert.equal(github.received.length, 1);
    const status = github.received[0]!;
    assert.equal(status.path, `/api/v3/repos/acme/fleet/statuses/${first}`);
    assert.equal(status.headers.accept, 'application/vnd.github+json');
    assert.deepEqual(Object.keys(JSON.parse(status.body)).sort(), ['context', 'description', 'state', 'target_url']);
    const shape = JSON.parse(status.body);
    assert.equal(shape.state, 'success');
    assert.equal(shape.context, `doris/default/${name}`);
    assert.match(shape.description, /^Succeeded: applied /);
    assert.ok(shape.description.length <= 140);
    assert.equal(shape.target_url, 'https://doris.example/pipelines/notify');
  });

  it('a resync that changes nothing sends nothing', async () => {
    const result = await sync(name);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.deepEqual([generic.received.length, slack.received.length, github.received.length], [1, 1, 1]);
  });

  it('a failing commit is announced once (failure status on that commit), not on every retry', async () => {
    broken = await pushFiles(env, repoUrl, { 'deploy/1-app/30-broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n' }, 'broken');
    const failed = await sync(name);
    assert.equal(failed.code, 1);
    assert.equal(generic.received.length, 2);
    const body = JSON.parse(generic.received[1]!.body);
    assert.equal(body.kind, 'SyncFailed');
    assert.equal(body.reason, 'BuildFailed');
    assert.equal(body.commit, broken);
    assert.match(body.message, /30-broken\.yaml/);
    const status = github.received[1]!;
    assert.equal(status.path, `/api/v3/repos/acme/fleet/statuses/${broken}`);
    assert.equal(JSON.parse(status.body).state, 'failure');

    const again = await sync(name);
    assert.equal(again.code, 1);
    assert.deepEqual([generic.received.length, slack.received.length, github.received.length], [2, 2, 2], 'the same failure is not sent again');
  });

  it('the fix is announced as a success on the new commit', async () => {
    const fixed = await pushFiles(
      env,
      repoUrl,
      { 'deploy/1-app/30-broken.yaml': null, 'deploy/1-app/20-cm.yaml': configMapYaml(ns, 'settings', { level: 'two' }) },
      'fix',
    );
    const result = await sync(name);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(generic.received.length, 3);
    const body = JSON.parse(generic.received[2]!.body);
    assert.equal(body.kind, 'SyncSucceeded');
    assert.equal(body.commit, fixed);
    assert.equal(JSON.parse(github.received[2]!.body).state, 'success');
  });
});

describe('an image roll', () => {
  it('a new digest under the tracked tag: a success and an ImageRolled naming the old and new digest; the first pin is no roll', async () => {
    const hook = await receiver();
    receivers.push(hook);
    const ns = `notify-img-${run}`;
    namespaces.push(ns);
    const image = `acme/notify-img-${run}`;
    const one = await pushTestImage(env, image, 'main', `one ${run}`);
    const repo = await createRepo(env, 'notify-img', {
      'deploy/1-app/10-ns.yaml': namespaceYaml(ns),
      'deploy/1-app/170-app.yaml': deploymentYaml({ namespace: ns, name: 'app', image: `${env.REGISTRY}/${image}:main` }),
    });
    const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
    await api.request('POST', `/api/v1/namespaces/${controllerNs}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secrets[2] },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { [env.REGISTRY]: { auth } } })).toString('base64') },
      },
    });
    const name = `notify-img-${run}`;
    pipelines.push(name);
    await applyPipelineAsAdmin(api, controllerNs, name, {
      git: { url: repo.url },
      images: [{ repository: `${env.REGISTRY}/${image}`, tag: 'main', secretRef: { name: secrets[2] } }],
      notify: [{ type: 'generic', url: `${hook.url}/img`, secretRef: { name: secrets[0] } }],
    });
    const first = await sync(name);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.deepEqual(
      hook.received.map((r) => JSON.parse(r.body).kind),
      ['SyncSucceeded'],
    );

    const two = await pushTestImage(env, image, 'main', `two ${run}`);
    const second = await sync(name);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    const bodies = hook.received.map((r) => JSON.parse(r.body));
    // The two notifications of one sync are delivered side by side: their order is not fixed.
    assert.deepEqual(bodies.map((b) => b.kind).sort(), ['ImageRolled', 'SyncSucceeded', 'SyncSucceeded']);
    const rolled = bodies.find((b) => b.kind === 'ImageRolled');
    assert.equal(rolled.commit, repo.commit);
    assert.deepEqual(
      rolled.images.map((i: { repository: string; from: string; to: string }) => [i.repository, i.from, i.to]),
      [[`${env.REGISTRY}/${image}`, one, two]],
    );
    assert.ok(verify(hook.received[2]!.body, signingKey, hook.received[2]!.headers['x-doris-signature'] as string));
  });
});

describe('delivery never decides a sync', () => {
  it('a receiver that fails twice gets the notification on a retry; one that is down does not fail the sync', async () => {
    const flaky = await receiver((_, index) => ({ status: index < 2 ? 503 : 200 }));
    const down = await receiver();
    receivers.push(flaky);
    await down.close();
    const ns = `notify-retry-${run}`;
    namespaces.push(ns);
    const repo = await createRepo(env, 'notify-retry', {
      'deploy/1-app/10-ns.yaml': namespaceYaml(ns),
      'deploy/1-app/20-cm.yaml': configMapYaml(ns, 'c', { a: '1' }),
    });
    const name = `notify-retry-${run}`;
    pipelines.push(name);
    await applyPipelineAsAdmin(api, controllerNs, name, {
      git: { url: repo.url },
      notify: [
        { type: 'generic', url: `${flaky.url}/hook`, secretRef: { name: secrets[0] } },
        { type: 'generic', url: `${down.url}/hook`, secretRef: { name: secrets[0] } },
      ],
    });
    const result = (await sync(name)) as CliResult & { ms: number };
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(flaky.received.length, 3, 'two 503 answers, then delivered');
    const bodies = new Set(flaky.received.map((r) => r.body));
    assert.equal(bodies.size, 1, 'every attempt carries the same body');
    assert.ok(verify(flaky.received[2]!.body, signingKey, flaky.received[2]!.headers['x-doris-signature'] as string));
    assert.match(result.stderr + result.stdout, /notification not delivered|notifications still undelivered/, 'the receiver that is down is reported');
    const ready = (
      await api.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        'GET',
        `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`,
      )
    ).body.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True', 'the sync succeeded although a receiver is down');
  });
});

describe('secrets stay secret', () => {
  it('the signing key and the token appear in no output, status or Event', async () => {
    assert.ok(outputs.length >= 6);
    const texts = outputs.map((o) => o.stdout + o.stderr);
    for (const name of pipelines)
      texts.push(JSON.stringify((await api.request('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`)).body));
    const events = await api.request<{ items: Array<{ involvedObject: { name: string }; message: string }> }>(
      'GET',
      `/api/v1/namespaces/${controllerNs}/events`,
    );
    texts.push(...events.body.items.filter((e) => pipelines.includes(e.involvedObject.name)).map((e) => e.message));
    for (const text of texts) {
      assert.ok(!text.includes(signingKey), 'the signing key leaked');
      assert.ok(!text.includes(githubToken), 'the GitHub token leaked');
    }
    // A webhook's path is its credential: logs name a receiver by host only.
    for (const output of outputs) assert.ok(!(output.stdout + output.stderr).includes('/services/T000/B000/XXXX'), 'the Slack webhook path leaked');
  });
});

describe('the controller', () => {
  const ns = `doris-notify-${run}`;
  const appNs = `notify-ctl-${run}`;
  let c: RunningController | undefined;
  let saKubeconfig: string | undefined;

  after(async () => {
    await c?.stop('SIGTERM');
    await removeInstall(api, ns, saKubeconfig, [appNs]);
  });

  async function failures(pipeline: string, reason: string): Promise<number> {
    const text = await (await fetch(`${c!.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('doris_syncs_total{') && l.includes(`pipeline="${pipeline}"`) && l.includes(`result="${reason}"`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it('retrying a failing commit every second, it sends the failure once; then the fix', async () => {
    const hook = await receiver();
    receivers.push(hook);
    const kinds = () => hook.received.map((r) => JSON.parse(r.body).kind as string);
    const repo = await createRepo(env, 'notify-ctl', {
      'deploy/1-app/10-ns.yaml': namespaceYaml(appNs),
      'deploy/1-app/20-cm.yaml': configMapYaml(appNs, 'c', { a: '1' }),
    });
    await bootstrapInstall(env, ns, repo.url, 'notified');
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { secret: signingKey } },
    });
    await applyPipelineAsAdmin(api, ns, 'notified', {
      git: { url: repo.url, secretRef: { name: 'doris-git' }, path: 'deploy' },
      notify: [{ type: 'generic', url: `${hook.url}/ctl`, secretRef: { name: 'hook' } }],
    });
    saKubeconfig = await serviceAccountKubeconfig(env, api, ns);
    c = startController(env, ['--namespace', ns, '--poll-interval', '1s'], {
      kubeconfig: saKubeconfig,
      port: await freePort(),
      extraEnv: { DORIS_CLUSTER_NAME: 'plant-7' },
    });
    await waitFor('the first sync announced', () => hook.received.length >= 1, { timeoutMs: 60_000 });
    const firstBody = JSON.parse(hook.received[0]!.body);
    assert.deepEqual([firstBody.kind, firstBody.commit, firstBody.cluster], ['SyncSucceeded', repo.commit, 'plant-7']);
    assert.ok(verify(hook.received[0]!.body, signingKey, hook.received[0]!.headers['x-doris-signature'] as string));

    const broken = await pushFiles(env, repo.url, { 'deploy/1-app/30-broken.yaml': 'kind: [\n' }, 'broken');
    await waitFor('the failure announced', () => kinds().includes('SyncFailed'), { timeoutMs: 60_000 });
    // Three more failed syncs of the same commit: the controller kept retrying, silently.
    const seen = await failures('notified', 'BuildFailed');
    await waitFor('three more retries', async () => (await failures('notified', 'BuildFailed')) >= seen + 3, { timeoutMs: 90_000 });
    assert.deepEqual(kinds(), ['SyncSucceeded', 'SyncFailed'], 'one failure notification for many failed syncs');
    assert.equal(JSON.parse(hook.received[1]!.body).commit, broken);

    const fixed = await pushFiles(env, repo.url, { 'deploy/1-app/30-broken.yaml': null }, 'fix');
    await waitFor('the recovery announced', () => hook.received.length >= 3, { timeoutMs: 60_000 });
    const recovery = JSON.parse(hook.received[2]!.body);
    assert.deepEqual([recovery.kind, recovery.commit], ['SyncSucceeded', fixed]);
    assert.equal(c.child.exitCode, null, 'the controller is still running');
    assert.doesNotMatch(c.logs(), new RegExp(signingKey));
  });
});
