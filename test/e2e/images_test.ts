/**
 * Images and configuration rolling workloads, against the real registry and control plane:
 * digests pinned, a new digest rolling its Deployment without a commit, glob rules tracking
 * the repositories the manifests name while the registry refuses its catalog (as GHCR and
 * Docker Hub do), `image_url_var`, an image never resolved applied as written, a failing
 * registry keeping the last digest, HEAD-only steady polling, registry notifications, and
 * ConfigMap/Secret changes rolling their users.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris, startController, syncInline, type RunningController } from '../env/doris.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let credsFile: string;
const run = `${process.pid}`;
const namespaces: string[] = [];
const controllers: RunningController[] = [];

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  credsFile = join(env.TESTENV_DIR, `registry-creds-${run}.json`);
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(credsFile, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });
});

afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop('SIGKILL');
});

after(async () => {
  for (const ns of namespaces) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
});

interface Deployment {
  metadata: { uid: string; resourceVersion: string };
  spec: { template: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }> } } };
}

async function deployment(ns: string, name: string): Promise<Deployment> {
  return (await api.request<Deployment>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).body;
}

async function replicaSets(ns: string, app: string): Promise<number> {
  const { body } = await api.request<{ items: unknown[] }>('GET', `/apis/apps/v1/namespaces/${ns}/replicasets`, { query: { labelSelector: `app=${app}` } });
  return body.items.length;
}

const workload = (ns: string, name: string, image: string, container = '', pod = '') => deploymentYaml({ namespace: ns, name, image, container, pod });

describe('image digests', () => {
  const ns = `e2e-img-${run}`;
  const name = `images-${run}`;
  const influx = () => `${env.REGISTRY}/acme/solar-influx-${run}`;
  const rule = () => `${env.REGISTRY}/acme/solar-*:main`;
  let url: string;

  before(async () => {
    namespaces.push(ns);
    await pushTestImage(env, `acme/solar-influx-${run}`, 'main', `influx one ${run}`);
  });

  it('pins a tracked image by digest and resolves image_url_var by the app label, with a registry that serves no catalog', async () => {
    const auth = `Basic ${Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64')}`;
    assert.equal(
      (await fetch(`http://${env.REGISTRY}/v2/_catalog`, { headers: { authorization: auth } })).status,
      404,
      'the test registry refuses the catalog, as GHCR does',
    );
    const digest = await pushTestImage(env, `acme/solar-influx-${run}`, 'main', `influx one ${run}`);
    const logMark = readFileSync(env.REGISTRY_LOG).length;
    ({ url } = await createRepo(env, 'images', {
      'deploy/1-app/10-ns.yml': namespaceYaml(ns),
      'deploy/1-app/170-influx.yml': workload(ns, 'influx', `${influx()}:main`),
      'deploy/1-app/171-placeholder.yml': workload(ns, `influx-${run}`, 'image_url_var'),
      'deploy/1-app/172-other.yml': workload(ns, 'other', 'registry.example/other:1'),
    }));
    const result = await syncInline(env, name, url, ['--image-rule', rule(), '--registry-credentials', credsFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await deployment(ns, 'influx')).spec.template.spec.containers[0]?.image, `${influx()}:main@${digest}`);
    assert.equal((await deployment(ns, `influx-${run}`)).spec.template.spec.containers[0]?.image, `${influx()}:main@${digest}`);
    assert.equal((await deployment(ns, 'other')).spec.template.spec.containers[0]?.image, 'registry.example/other:1');
    const registryLog = readFileSync(env.REGISTRY_LOG).subarray(logMark).toString('utf8');
    assert.ok(!registryLog.includes('/v2/_catalog'), 'the sync asked for the catalog');
    assert.ok(registryLog.includes(`HEAD /v2/acme/solar-influx-${run}/manifests/main`), 'the sync asked the registry about the image the manifests name');
  });

  it('rolls the Deployment when new content is pushed under the same tag, without a commit, writing nothing else', async () => {
    const before = { influx: await deployment(ns, 'influx'), other: await deployment(ns, 'other'), sets: await replicaSets(ns, 'influx') };
    const digest = await pushTestImage(env, `acme/solar-influx-${run}`, 'main', `influx two ${run}`);
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url, ['--image-rule', rule(), '--registry-credentials', credsFile]);
    assert.equal(result.code, 0, result.stderr);
    const after = await deployment(ns, 'influx');
    assert.equal(after.spec.template.spec.containers[0]?.image, `${influx()}:main@${digest}`);
    assert.equal(after.metadata.uid, before.influx.metadata.uid, 'rolled, not recreated');
    await waitFor('a new ReplicaSet', async () => (await replicaSets(ns, 'influx')) === before.sets + 1);
    // Other tests share the cluster (and the admin identity): count the writes in our namespace.
    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').filter(
      (e) => e.objectRef?.resource === 'deployments' && e.objectRef.namespace === ns,
    );
    assert.deepEqual(writes.map((e) => e.objectRef?.name).sort(), ['influx', `influx-${run}`].sort(), 'the unrelated Deployment was not written');
    const status = (
      await api.request<{ status: { imageHistory: Array<{ repository: string; to: string }> } }>(
        'GET',
        `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${name}`,
      )
    ).body.status;
    assert.equal(status.imageHistory[0]?.to, digest);
    const events = await api.request<{ items: Array<{ reason: string; message: string; involvedObject: { name: string } }> }>(
      'GET',
      '/api/v1/namespaces/doris-system/events',
      {
        query: { fieldSelector: `involvedObject.name=${name}` },
      },
    );
    assert.ok(
      events.body.items.some(
        (e) => e.reason === 'ImageUpdated' && e.message.includes(`${before.influx.spec.template.spec.containers[0]!.image.split('@')[1]} -> ${digest}`),
      ),
      'an Event records the change, old -> new',
    );
  });

  it('picks up a newly pushed repository that matches the glob, without changing the Pipeline', async () => {
    const grafanaRepo = `acme/solar-grafana-${run}`;
    const digest = await pushTestImage(env, grafanaRepo, 'main', `grafana ${run}`);
    await pushFiles(env, url, { 'deploy/1-app/173-grafana.yml': workload(ns, 'grafana', `${env.REGISTRY}/${grafanaRepo}:main`) }, 'grafana');
    const result = await syncInline(env, name, url, ['--image-rule', rule(), '--registry-credentials', credsFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await deployment(ns, 'grafana')).spec.template.spec.containers[0]?.image, `${env.REGISTRY}/${grafanaRepo}:main@${digest}`);
  });

  it('applies an image it could never resolve as written, unpinned, and records in status that it has no digest and why, not as a clean Succeeded', async () => {
    const absent = `${env.REGISTRY}/acme/solar-absent-${run}`;
    const absentNs = `e2e-absent-${run}`;
    namespaces.push(absentNs);
    const { url: repo } = await createRepo(env, 'absent', {
      'deploy/1-app/10-ns.yml': namespaceYaml(absentNs),
      'deploy/1-app/170-absent.yml': workload(absentNs, 'absent', `${absent}:main`),
    });
    const pipeline = `absent-${run}`;
    const result = await syncInline(env, pipeline, repo, ['--image-rule', rule(), '--registry-credentials', credsFile]);
    const output = result.stdout + result.stderr;
    assert.match(output, new RegExp(`solar-absent-${run}:main.*404`));
    assert.equal(
      (await deployment(absentNs, 'absent')).spec.template.spec.containers[0]?.image,
      `${absent}:main`,
      `unpinned, as written; the sync said: ${output}`,
    );
    const status = (
      await api.request<{
        status: {
          images?: Array<{ repository: string; digest?: string; error?: string }>;
          conditions: Array<{ type: string; status: string; reason: string; message: string }>;
        };
      }>('GET', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${pipeline}`)
    ).body.status;
    const image = status.images?.find((i) => i.repository === absent);
    assert.ok(image, `status lists the image: ${JSON.stringify(status.images)}`);
    assert.equal(image.digest, undefined, 'no digest was ever known');
    assert.match(image.error ?? '', /404/);
    // Applied, but not as asked: not a clean Succeeded, and no "last digest" that never was.
    const ready = status.conditions.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['False', 'ImageResolveFailed'], JSON.stringify(ready));
    assert.match(ready?.message ?? '', /could not be resolved/);
    assert.doesNotMatch(ready?.message ?? '', /kept their last digest/);
  });

  it('fails the render clearly when image_url_var matches no tracked image', async () => {
    const { url: other } = await createRepo(env, 'placeholder', { 'deploy/1-app/170-x.yml': workload(ns, 'nomatch', 'image_url_var') });
    const result = await syncInline(env, `nomatch-${run}`, other, ['--image-rule', rule(), '--registry-credentials', credsFile]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /deploy\/1-app\/170-x\.yml:\d+:\d+/);
    assert.match(result.stderr, /image_url_var/);
  });
});

/** A pass-through proxy in front of the registry that can be told to answer 500. */
async function flakyRegistry(target: string): Promise<{ server: Server; host: string; failing: { on: boolean }; hits: number[] }> {
  const failing = { on: false };
  const hits: number[] = [];
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const server = createServer((req, res) => {
    hits.push(Date.now());
    if (failing.on) {
      res.writeHead(500).end('registry broken on purpose');
      return;
    }
    const upstream = httpRequest({ host: targetHost, port: Number(targetPort), path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, host: `127.0.0.1:${(server.address() as { port: number }).port}`, failing, hits };
}

describe('a failing registry', () => {
  it('keeps the last digest and says why; polling backs off; the next digest change still rolls', async () => {
    const ns = `e2e-flaky-${run}`;
    namespaces.push(ns);
    const repo = `acme/flaky-${run}`;
    const proxy = await flakyRegistry(env.REGISTRY);
    try {
      const creds = join(env.TESTENV_DIR, `flaky-creds-${run}.json`);
      const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
      writeFileSync(creds, JSON.stringify({ auths: { [proxy.host]: { auth } } }), { mode: 0o600 });
      const first = await pushTestImage(env, repo, 'main', `flaky one ${run}`);
      const { url } = await createRepo(env, 'flaky', {
        'deploy/1-app/10-ns.yml': namespaceYaml(ns),
        'deploy/1-app/170-app.yml': workload(ns, 'app', `${proxy.host}/${repo}:main`),
      });
      const args = ['--image-rule', `${proxy.host}/${repo}:main`, '--registry-credentials', creds];
      assert.equal((await syncInline(env, `flaky-${run}`, url, args)).code, 0);

      proxy.failing.on = true;
      await pushTestImage(env, repo, 'main', `flaky two ${run}`);
      const during = await syncInline(env, `flaky-${run}`, url, args);
      assert.equal(during.code, 0, 'a registry error does not fail the sync');
      assert.equal((await deployment(ns, 'app')).spec.template.spec.containers[0]?.image, `${proxy.host}/${repo}:main@${first}`, 'the last digest stays');
      const status = (
        await api.request<{ status: { images: Array<{ error?: string }>; conditions: Array<{ type: string; message: string }> } }>(
          'GET',
          `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/flaky-${run}`,
        )
      ).body.status;
      assert.match(status.images[0]?.error ?? '', /500/);
      assert.match(status.conditions.find((c) => c.type === 'Ready')?.message ?? '', /kept their last digest/);

      // The controller's image polls back off while the registry fails.
      const c = startController(env, ['--poll-interval', '10m', '--image-poll-interval', '200ms', '--registry-credentials', creds], { port: await freePort() });
      controllers.push(c);
      const start = proxy.hits.length;
      await waitFor('several failing image polls', () => proxy.hits.length - start >= 12, { timeoutMs: 60_000 });
      const polls = proxy.hits.slice(start);
      // Each poll retries inside the client; polls are the bursts separated by gaps.
      const gaps = polls
        .slice(1)
        .map((t, i) => t - polls[i]!)
        .filter((g) => g > 150);
      assert.ok(gaps.length >= 2, `gaps ${gaps.join(', ')}`);
      assert.ok(gaps.at(-1)! > gaps[0]!, `the gaps between failing polls grow: ${gaps.join(', ')}`);

      proxy.failing.on = false;
      const third = await pushTestImage(env, repo, 'main', `flaky three ${run}`);
      await waitFor(
        'the roll after the registry came back',
        async () => (await deployment(ns, 'app')).spec.template.spec.containers[0]?.image.endsWith(third),
        { timeoutMs: 60_000 },
      );
    } finally {
      proxy.server.close();
    }
  });
});

describe('the controller and the registry', () => {
  it('polls with HEAD requests only in steady state, and a registry notification rolls the image', async () => {
    const ns = `e2e-notify-${run}`;
    namespaces.push(ns);
    const repo = `acme/notify-${run}`;
    await pushTestImage(env, repo, 'main', `notify one ${run}`);
    const { url } = await createRepo(env, 'notify', {
      'deploy/1-app/10-ns.yml': namespaceYaml(ns),
      'deploy/1-app/170-app.yml': workload(ns, 'app', `${env.REGISTRY}/${repo}:main`),
    });
    // The Pipeline reads its registry credentials from a dockerconfigjson Secret.
    const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
    await api.request('PATCH', `/api/v1/namespaces/doris-system/secrets/registry-${run}`, {
      query: { fieldManager: 'tests', force: true },
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `registry-${run}`, namespace: 'doris-system' },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { [env.REGISTRY]: { auth } } })).toString('base64') },
      },
    });
    const name = `notify-${run}`;
    const created = await doris(env, [
      'sync',
      '--once',
      '--repo',
      url,
      '--name',
      name,
      '--image-rule',
      `${env.REGISTRY}/${repo}:main`,
      '--registry-credentials',
      credsFile,
    ]);
    assert.equal(created.code, 0, created.stderr);
    await api.request('PATCH', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${name}`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { images: [{ repository: `${env.REGISTRY}/${repo}`, tag: 'main', secretRef: { name: `registry-${run}` }, interval: '1s' }] } },
    });

    const tokenFile = join(env.TESTENV_DIR, `notify-token-${run}`);
    writeFileSync(tokenFile, env.REGISTRY_NOTIFY_TOKEN, { mode: 0o600 });
    const c = startController(env, ['--poll-interval', '10m', '--registry-token-file', tokenFile], { port: await freePort() });
    controllers.push(c);
    await waitFor('controller ready', async () => (await fetch(`${c.url}/readyz`).catch(() => undefined))?.ok);

    // Steady state: a few image polls, each a HEAD of the manifest.
    const logMark = readFileSync(env.REGISTRY_LOG).length;
    await waitFor(
      'a few image polls',
      () => {
        const lines = readFileSync(env.REGISTRY_LOG).subarray(logMark).toString('utf8').split('\n');
        return lines.filter((l) => l.includes(`/v2/${repo}/manifests/main`)).length >= 4;
      },
      { timeoutMs: 30_000 },
    );
    const requests = readFileSync(env.REGISTRY_LOG)
      .subarray(logMark)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.includes(`/v2/${repo}/`));
    const methods = new Set(requests.map((l) => /"(GET|HEAD|POST|PUT|PATCH|DELETE) /.exec(l)?.[1]).filter(Boolean));
    assert.deepEqual([...methods], ['HEAD'], `steady polling used ${[...methods].join(', ')}`);

    // A notification from the registry (through the relay) triggers the roll at once.
    await api.request('PATCH', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${name}`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { images: [{ repository: `${env.REGISTRY}/${repo}`, tag: 'main', secretRef: { name: `registry-${run}` }, interval: '10m' }] } },
    });
    const sub = await fetch(`${env.NOTIFY_RELAY_URL}/subscribe`, { method: 'POST', body: JSON.stringify({ url: `${c.url}/hooks/registry` }) });
    const { id } = (await sub.json()) as { id: string };
    try {
      const digest = await pushTestImage(env, repo, 'main', `notify two ${run}`);
      await waitFor('the notified roll', async () => (await deployment(ns, 'app')).spec.template.spec.containers[0]?.image.endsWith(digest), {
        timeoutMs: 20_000,
      });
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      assert.match(metrics, /doris_webhooks_total\{hook="registry",outcome="triggered"\} [1-9]/);
    } finally {
      await fetch(`${env.NOTIFY_RELAY_URL}/subscribe/${id}`, { method: 'DELETE' });
    }
  });
});

describe('configuration changes', () => {
  it('rolls the workloads that use a changed ConfigMap or Secret, and only those', async () => {
    const ns = `e2e-config-${run}`;
    namespaces.push(ns);
    const name = `config-${run}`;
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ${ns}}\ndata: {mode: "${value}"}\n`;
    const secret = (value: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ${ns}}\nstringData: {password: "${value}"}\n`;
    const files = (c: string, s: string) => ({
      'deploy/1-app/10-ns.yml': namespaceYaml(ns),
      'deploy/1-app/60-secret.yml': secret(s),
      'deploy/1-app/120-config.yml': cm(c),
      'deploy/1-app/170-mounts.yml': workload(
        ns,
        'mounts',
        'registry.example/a:1',
        '        volumeMounts: [{name: cfg, mountPath: /etc/cfg}]\n',
        '      volumes: [{name: cfg, configMap: {name: settings}}]\n',
      ),
      'deploy/1-app/171-envfrom.yml': workload(ns, 'envfrom', 'registry.example/b:1', '        envFrom: [{configMapRef: {name: settings}}]\n'),
      'deploy/1-app/172-secretref.yml': workload(
        ns,
        'secretref',
        'registry.example/c:1',
        '        env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]\n',
      ),
      'deploy/1-app/173-plain.yml': workload(ns, 'plain', 'registry.example/d:1'),
    });
    const { url } = await createRepo(env, 'config', files('one', 's3cret-one'));
    assert.equal((await syncInline(env, name, url)).code, 0);
    const hash = async (n: string) => (await deployment(ns, n)).spec.template.metadata?.annotations?.['doris.dev/config-hash'];
    const before = { mounts: await hash('mounts'), envfrom: await hash('envfrom'), secretref: await hash('secretref'), plain: await deployment(ns, 'plain') };
    assert.ok(before.mounts && before.envfrom && before.secretref);
    assert.equal(before.plain.spec.template.metadata?.annotations?.['doris.dev/config-hash'], undefined);

    await pushFiles(env, url, { 'deploy/1-app/120-config.yml': cm('two') }, 'config two');
    let mark = auditMark(env.AUDIT_LOG);
    assert.equal((await syncInline(env, name, url)).code, 0);
    let written = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin')
      .filter((e) => e.objectRef?.resource === 'deployments' && e.objectRef.namespace === ns)
      .map((e) => e.objectRef?.name)
      .sort();
    assert.deepEqual(written, ['envfrom', 'mounts']);
    assert.notEqual(await hash('mounts'), before.mounts);
    assert.notEqual(await hash('envfrom'), before.envfrom);
    assert.equal(await hash('secretref'), before.secretref);

    await pushFiles(env, url, { 'deploy/1-app/60-secret.yml': secret('s3cret-two') }, 'secret two');
    mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0);
    written = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin')
      .filter((e) => e.objectRef?.resource === 'deployments' && e.objectRef.namespace === ns)
      .map((e) => e.objectRef?.name)
      .sort();
    assert.deepEqual(written, ['secretref']);
    assert.notEqual(await hash('secretref'), before.secretref);
    assert.equal((await deployment(ns, 'plain')).metadata.resourceVersion, before.plain.metadata.resourceVersion);
    assert.ok(!result.stdout.includes('s3cret') && !result.stderr.includes('s3cret'), 'secret values never leave the hash');
  });
});
