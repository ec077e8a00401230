/** When a wave's health wait steps aside (gives the controller's concurrency slot away), and what runs there. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { waitForHealthy, type WaitOptions, type WaitTarget } from '../../../src/health/index.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/render/types.js';

const service = (ready: boolean): KubeObject =>
  parse(`
apiVersion: v1
kind: Service
metadata: { name: ingress, namespace: edge }
spec: { type: LoadBalancer, clusterIP: 10.43.0.10 }
status: { loadBalancer: { ${ready ? 'ingress: [{ ip: 192.0.2.1 }]' : ''} } }
`) as KubeObject;

const target = (): WaitTarget => {
  const object = service(false);
  return { desired: { object, wave: 1, waveName: '1-edge', step: 10, source: { file: '1-edge/10-ingress.yml', line: 1, col: 1 } }, live: object };
};

/** The Service gets its address at the `readyAt`-th GET; `inAside` says where each GET ran. */
function cluster(readyAt: number) {
  const gets: Array<'aside' | 'slot'> = [];
  let inAside = false;
  const client = {
    get: async () => {
      gets.push(inAside ? 'aside' : 'slot');
      return service(gets.length >= readyAt);
    },
    list: async () => [],
  } as unknown as KubeClient;
  const asides: number[] = [];
  const aside = async <T>(work: () => Promise<T>): Promise<T> => {
    asides.push(gets.length);
    inAside = true;
    try {
      return await work();
    } finally {
      inAside = false;
    }
  };
  return { client, gets, asides, aside };
}

const options = (o: Partial<WaitOptions>): WaitOptions => ({ timeoutMs: 60_000, pollMs: 1, maxPollMs: 1, concurrency: 1, ...o });

test('a wait shorter than asideAfterMs keeps its slot', async () => {
  const c = cluster(3);
  await waitForHealthy(c.client, [target()], options({ aside: c.aside, asideAfterMs: 60_000 }));
  assert.deepEqual(c.gets, ['slot', 'slot', 'slot']);
  assert.deepEqual(c.asides, []);
});

test('a wait that lasts steps aside once, and polls there until the wave is healthy', async () => {
  const c = cluster(4);
  await waitForHealthy(c.client, [target()], options({ aside: c.aside, asideAfterMs: 0 }));
  assert.deepEqual(c.asides, [0], 'aside once, before the first poll');
  assert.deepEqual(c.gets, ['aside', 'aside', 'aside', 'aside']);
});

test('a wave already healthy never steps aside', async () => {
  const c = cluster(1);
  const ready = target();
  ready.live = service(true);
  await waitForHealthy(c.client, [ready], options({ aside: c.aside, asideAfterMs: 0 }));
  assert.deepEqual(c.asides, []);
  assert.deepEqual(c.gets, []);
});

test('a timeout aside is thrown out of the wait, naming the object', async () => {
  const c = cluster(Number.POSITIVE_INFINITY);
  await assert.rejects(waitForHealthy(c.client, [target()], options({ aside: c.aside, asideAfterMs: 0, timeoutMs: 30 })), (error: Error) => {
    assert.match(error.message, /timed out waiting for: Service edge\/ingress \(1-edge\/10-ingress.yml\)/);
    return true;
  });
  assert.deepEqual(c.asides, [0]);
  assert.ok(c.gets.length > 0 && c.gets.every((g) => g === 'aside'));
});
