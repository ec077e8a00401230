/**
 * The test environment itself, proven against its real parts: the control plane schedules
 * and runs Pods on the kwok node, controllers work (namespace deletion, GC, PV binding),
 * RBAC is enforced, the git server authenticates pushes, and the registry serves digests,
 * refuses bad passwords and sends notifications.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { KubeApiError, KubeHttp } from '../../src/kube/http.js';
import { loadConnection } from '../../src/kube/kubeconfig.js';
import { fakeNodeName } from '../env/cluster.js';
import { gitAuthEnv } from '../env/gitrepo.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

const execFileP = promisify(execFile);

let env: TestEnv;
let api: KubeHttp;

const ns = `testenv-${process.pid}`;

async function apply(path: string, body: unknown): Promise<void> {
  await api.request('PATCH', path, { query: { fieldManager: 'tests', force: true }, body, contentType: 'application/apply-patch+yaml' });
}

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  await apply(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
});

describe('control plane', () => {
  it('rolls out a Deployment with 2 replicas whose Pods run Ready on the fake node', async () => {
    await apply(`/apis/apps/v1/namespaces/${ns}/deployments/web`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'example.invalid/web:1' }] } },
      },
    });
    await waitFor(
      'Deployment web Available with 2 ready replicas',
      async () => {
        const { body } = await api.request<{ status?: { availableReplicas?: number; conditions?: Array<{ type: string; status: string }> } }>(
          'GET',
          `/apis/apps/v1/namespaces/${ns}/deployments/web`,
        );
        return body.status?.availableReplicas === 2 && body.status.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      },
      { timeoutMs: 60_000 },
    );
    const { body } = await api.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=web' } });
    assert.equal(body.items.length, 2);
    for (const pod of body.items) {
      assert.equal(pod.spec.nodeName, fakeNodeName);
      assert.equal(pod.status.phase, 'Running');
      assert.ok(
        pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        `${pod.metadata.name} Ready`,
      );
    }
  });

  it('completes the deletion of a Namespace that holds objects', async () => {
    const doomed = `${ns}-doomed`;
    await apply(`/api/v1/namespaces/${doomed}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: doomed } });
    await apply(`/api/v1/namespaces/${doomed}/configmaps/c`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: doomed },
      data: { a: '1' },
    });
    await apply(`/apis/apps/v1/namespaces/${doomed}/deployments/d`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: doomed },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'd' } },
        template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'd', image: 'example.invalid/d:1' }] } },
      },
    });
    await waitFor('a Pod of Deployment d', async () => {
      const { body } = await api.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${doomed}/pods`);
      return body.items.length === 1;
    });
    await api.request('DELETE', `/api/v1/namespaces/${doomed}`);
    await waitFor(
      'namespace deletion',
      async () => {
        const res = await api.request('GET', `/api/v1/namespaces/${doomed}`, { accept: [404] });
        return res.status === 404;
      },
      { timeoutMs: 90_000 },
    );
  });

  it('binds a PersistentVolumeClaim', async () => {
    await apply(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    const phase = await waitFor('PVC Bound', async () => {
      const { body } = await api.request<{ status?: { phase?: string } }>('GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`);
      return body.status?.phase === 'Bound' ? body.status.phase : undefined;
    });
    assert.equal(phase, 'Bound');
  });

  it('enforces RBAC: a ServiceAccount token without permissions gets 403 on a list', async () => {
    await apply(`/api/v1/namespaces/${ns}/serviceaccounts/nobody`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: ns } });
    const { body } = await api.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/nobody/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    const admin = await loadConnection(env.KUBECONFIG);
    const asNobody = await KubeHttp.connect({ ...admin, authorization: async () => `Bearer ${body.status.token}` });
    try {
      await assert.rejects(asNobody.request('GET', `/api/v1/namespaces/${ns}/secrets`), (error: unknown) => {
        assert.ok(error instanceof KubeApiError);
        assert.equal(error.status, 403);
        assert.match(error.message, /system:serviceaccount:.*:nobody/);
        return true;
      });
    } finally {
      asNobody.close();
    }
  });
});

describe('git server', () => {
  it('accepts a push with the token and serves it back', async () => {
    const { url, commit } = await createRepo(env, 'testenv-git', { 'deploy/1-app/10-ns.yml': 'kind: Namespace\n' });
    const next = await pushFiles(env, url, { 'README.md': 'second\n' }, 'second');
    assert.notEqual(next, commit);
    const { stdout } = await execFileP('git', ['ls-remote', url, 'refs/heads/main'], { env: gitAuthEnv({ username: env.GIT_USERNAME, token: env.GIT_TOKEN }) });
    assert.equal(stdout.split('\t')[0], next);
  });

  it('refuses a wrong token', async () => {
    const { url } = await createRepo(env, 'testenv-git-auth', { 'a.txt': 'a\n' });
    const work = mkdtempSync(join(tmpdir(), 'doris-git-test-'));
    try {
      await assert.rejects(
        execFileP('git', ['clone', '--quiet', url, work], { env: gitAuthEnv({ username: env.GIT_USERNAME, token: 'wrong-token' }) }),
        /Authentication failed|401|could not read Username/,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('registry', () => {
  const basic = () => `Basic ${Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64')}`;
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

  it('serves the digest of an image pushed with skopeo from HEAD /v2/<name>/manifests/<tag>', async () => {
    const digest = await pushTestImage(env, 'acme/testenv-head', 'main', `content ${Date.now()}`);
    const res = await fetch(`http://${env.REGISTRY}/v2/acme/testenv-head/manifests/main`, {
      method: 'HEAD',
      headers: { authorization: basic(), accept },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('answers 401 to a wrong password', async () => {
    const res = await fetch(`http://${env.REGISTRY}/v2/acme/testenv-head/manifests/main`, {
      method: 'HEAD',
      headers: { authorization: `Basic ${Buffer.from(`${env.REGISTRY_USERNAME}:nope`).toString('base64')}`, accept },
    });
    assert.equal(res.status, 401);
  });

  it('sends a push notification to the listener a test chooses', async () => {
    const received: Array<{ authorization?: string; events: Array<{ action: string; target: { repository: string; tag?: string; digest: string } }> }> = [];
    const listener = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ authorization: req.headers.authorization, ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: [] }) });
        res.end();
      });
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const sub = await fetch(`${env.NOTIFY_RELAY_URL}/subscribe`, { method: 'POST', body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook` }) });
    const { id } = (await sub.json()) as { id: string };
    try {
      const digest = await pushTestImage(env, 'acme/testenv-notify', 'v1', `notify ${Date.now()}`);
      const push = await waitFor('a push notification for acme/testenv-notify', () =>
        received
          .flatMap((r) => r.events.map((e) => ({ ...e, authorization: r.authorization })))
          .find((e) => e.action === 'push' && e.target.repository === 'acme/testenv-notify' && e.target.digest === digest),
      );
      assert.equal(push.authorization, `Bearer ${env.REGISTRY_NOTIFY_TOKEN}`);
    } finally {
      await fetch(`${env.NOTIFY_RELAY_URL}/subscribe/${id}`, { method: 'DELETE' });
      listener.close();
    }
  });
});
