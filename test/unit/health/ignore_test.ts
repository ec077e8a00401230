import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { waitForHealthy, type WaitTarget } from '../../../src/health/index.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/render/types.js';
import { healthCases } from './fixture.js';

const pendingLoadBalancer = (annotations: string): string => `
apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: edge
  annotations: { ${annotations} }
spec: { type: LoadBalancer, clusterIP: 10.43.0.10 }
status: { loadBalancer: {} }
`;

healthCases([
  {
    name: 'a LoadBalancer Service without an address is Current when annotated doris.dev/health: ignore',
    yaml: pendingLoadBalancer('doris.dev/health: ignore'),
    status: 'Current',
    message: 'Service health is not checked (annotated doris.dev/health: ignore)',
  },
  {
    name: 'another value of doris.dev/health does not opt out',
    yaml: pendingLoadBalancer('doris.dev/health: "true"'),
    status: 'InProgress',
    message: 'Waiting for the load balancer to be given an address',
  },
  {
    name: 'an ignored object is Current even while a failure is reported',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: { doris.dev/health: ignore }
spec: { replicas: 1, progressDeadlineSeconds: 60 }
status:
  conditions:
    - { type: Progressing, status: "False", reason: ProgressDeadlineExceeded }
`,
    status: 'Current',
    message: 'Deployment health is not checked',
  },
]);

/** A client whose every call fails the test: the wait must not need the cluster. */
function unreachableClient(): KubeClient {
  const fail = (): never => assert.fail('the wait fetched an object it should not wait for');
  return { get: fail, list: fail } as unknown as KubeClient;
}

function target(yaml: string, live: string): WaitTarget {
  const object = parse(yaml) as KubeObject;
  const desired = { object, wave: 2, waveName: '2-edge', step: 10, source: { file: '2-edge/10-ingress.yml', line: 1, col: 1 } };
  return { desired, live: parse(live) as KubeObject };
}

test('the wave wait does not wait for an object annotated doris.dev/health: ignore in the repository', async () => {
  // The live copy predates the annotation (an apply in flight); the repository decides.
  const t = target(pendingLoadBalancer('doris.dev/health: ignore'), pendingLoadBalancer(''));
  await waitForHealthy(unreachableClient(), [t], { timeoutMs: 1_000, pollMs: 10, maxPollMs: 10, concurrency: 1 });
});

test('the wave wait times out on the same Service without the annotation', async () => {
  const t = target(pendingLoadBalancer(''), pendingLoadBalancer(''));
  const client = { get: async () => parse(pendingLoadBalancer('')) as KubeObject, list: async () => [] } as unknown as KubeClient;
  await assert.rejects(waitForHealthy(client, [t], { timeoutMs: 50, pollMs: 10, maxPollMs: 10, concurrency: 1 }), (error: Error) => {
    assert.match(error.message, /timed out waiting for: Service edge\/ingress .*InProgress: Waiting for the load balancer/);
    return true;
  });
});
