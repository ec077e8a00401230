/**
 * Health gating waves, against the real control plane (kwok plays the kubelet): a bare Pod
 * with `restartPolicy: Never` holds the next wave until it has Succeeded, not merely until it
 * is Ready; a `LoadBalancer` Service that no controller will ever give an address holds its
 * wave until the timeout, unless it is annotated `doris.dev/health: ignore`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { syncInline } from '../env/doris.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const namespaces: string[] = [];

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
});

after(async () => {
  for (const ns of namespaces) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
});

async function exists(path: string): Promise<boolean> {
  return (await api.request('GET', path, { accept: [404] })).status === 200;
}

describe('a run-once Pod', () => {
  const ns = `e2e-health-pod-${run}`;
  const pod = `apiVersion: v1
kind: Pod
metadata: {name: migrate, namespace: ${ns}}
spec:
  restartPolicy: Never
  containers: [{name: migrate, image: registry.example/migrate:1}]
`;

  it('holds the next wave while it runs, Ready, and lets it through once it has Succeeded', async () => {
    namespaces.push(ns);
    const { url } = await createRepo(env, 'health-pod', {
      'deploy/1-migrate/10-ns.yml': namespaceYaml(ns),
      'deploy/1-migrate/20-pod.yml': pod,
      'deploy/2-app/120-config.yml': configMapYaml(ns, 'after-migrate', { ready: 'yes' }),
    });
    const name = `health-pod-${run}`;
    const args = ['--wait-timeout', '3s'];
    const first = await syncInline(env, name, url, args);
    assert.equal(first.code, 1, first.stdout + first.stderr);

    // kwok runs a bare Pod and reports it Ready; with restartPolicy Never that is not done.
    await waitFor('the Pod Ready', async () => {
      const { body } = await api.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>('GET', `/api/v1/namespaces/${ns}/pods/migrate`);
      return body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    const running = await syncInline(env, name, url, args);
    assert.equal(running.code, 1, running.stdout + running.stderr);
    assert.match(running.stdout + running.stderr, /Pod e2e-health-pod-\d+\/migrate .*Waiting for Pod to complete: it is running \(restartPolicy Never\)/);
    assert.equal(await exists(`/api/v1/namespaces/${ns}/configmaps/after-migrate`), false, 'the next wave was applied while the task still ran');

    // The task finishes (what a kubelet reports; kwok completes only Pods of Jobs).
    await api.request('PATCH', `/api/v1/namespaces/${ns}/pods/migrate/status`, {
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          phase: 'Succeeded',
          conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted' }],
          containerStatuses: [
            {
              name: 'migrate',
              ready: false,
              restartCount: 0,
              image: 'registry.example/migrate:1',
              imageID: '',
              state: { terminated: { exitCode: 0, reason: 'Completed' } },
            },
          ],
        },
      },
    });
    const done = await syncInline(env, name, url, args);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.equal(await exists(`/api/v1/namespaces/${ns}/configmaps/after-migrate`), true);
  });
});

describe('doris.dev/health: ignore', () => {
  const ns = `e2e-health-lb-${run}`;
  const service = (annotations: string) => `apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: ${ns}
${annotations}spec:
  type: LoadBalancer
  selector: {app: ingress}
  ports: [{port: 443}]
`;

  it('lets the next wave through past a LoadBalancer Service that no controller will ever give an address', async () => {
    namespaces.push(ns);
    const { url } = await createRepo(env, 'health-lb', {
      'deploy/1-edge/10-ns.yml': namespaceYaml(ns),
      'deploy/1-edge/30-service.yml': service(''),
      'deploy/2-app/120-config.yml': configMapYaml(ns, 'after-ingress', { ready: 'yes' }),
    });
    const name = `health-lb-${run}`;
    const args = ['--wait-timeout', '3s'];

    const waiting = await syncInline(env, name, url, args);
    assert.equal(waiting.code, 1, waiting.stdout + waiting.stderr);
    assert.match(
      waiting.stdout + waiting.stderr,
      /timed out waiting for: Service e2e-health-lb-\d+\/ingress .*Waiting for the load balancer to be given an address/,
    );
    assert.equal(await exists(`/api/v1/namespaces/${ns}/configmaps/after-ingress`), false);

    await pushFiles(env, url, { 'deploy/1-edge/30-service.yml': service('  annotations: {doris.dev/health: ignore}\n') }, 'no load balancer on this cluster');
    const ignored = await syncInline(env, name, url, args);
    assert.equal(ignored.code, 0, ignored.stdout + ignored.stderr);
    assert.equal(await exists(`/api/v1/namespaces/${ns}/configmaps/after-ingress`), true);
    const { body } = await api.request<{ status: { loadBalancer: { ingress?: unknown[] } } }>('GET', `/api/v1/namespaces/${ns}/services/ingress`);
    assert.equal(body.status.loadBalancer.ingress, undefined, 'still no address: the annotation, not a controller, let the wave through');
  });
});
