/**
 * Leader election (controller/lease.ts) on node's mock clock, against a Lease store that
 * checks resourceVersions as the API server does: two replicas never both lead, whether a
 * replica's clock is off or the holder's renew hangs.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { LeaderElector, type LeaseOptions } from '../../../src/controller/lease.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { createLogger } from '../../../src/log.js';

/** One Lease, with the API server's resourceVersion rule; `hang` makes a client's calls never answer. */
function leaseStore() {
  let stored: KubeObject | undefined;
  let version = 0;
  const hanging = new Set<string>();
  const stamp = (o: KubeObject) => ({ ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++version) } });
  const client = (who: string) =>
    ({
      get: async () => {
        if (hanging.has(who)) await new Promise(() => undefined);
        return stored && structuredClone(stored);
      },
      create: async (o: KubeObject) => {
        if (stored) throw new KubeApiError('POST', 'lease', 409, { reason: 'AlreadyExists' }, '');
        stored = stamp(o);
        return structuredClone(stored);
      },
      replace: async (o: KubeObject) => {
        if (o.metadata.resourceVersion !== stored?.metadata.resourceVersion) throw new KubeApiError('PUT', 'lease', 409, { reason: 'Conflict' }, '');
        stored = stamp(o);
        return structuredClone(stored);
      },
    }) as unknown as KubeClient;
  return { client, hang: (who: string) => hanging.add(who), holder: () => (stored?.spec as { holderIdentity?: string } | undefined)?.holderIdentity };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
const log = createLogger({ level: 'silent' });
const options = (identity: string): LeaseOptions => ({ namespace: 'ns', name: 'doris-leader', identity, durationMs: 2_000, renewMs: 500 });

describe('LeaderElector', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('judges a Lease expired by its own clock from when it saw it change, not by the renewTime another clock wrote', async () => {
    const store = leaseStore();
    const a = new LeaderElector(store.client('a'), options('a'), log, () => undefined);
    const b = new LeaderElector(store.client('b'), options('b'), log, () => undefined);
    assert.equal(await a.tryAcquireOrRenew(new Date(0)), true);
    // b's clock runs 20 s ahead of a's.
    assert.equal(await b.tryAcquireOrRenew(new Date(20_100)), false, 'took a Lease renewed 100 ms before');
    assert.equal(await a.tryAcquireOrRenew(new Date(500)), true);
    assert.equal(await b.tryAcquireOrRenew(new Date(21_000)), false);
    // a stops renewing: b takes over a Lease duration after it last saw it change.
    assert.equal(await b.tryAcquireOrRenew(new Date(22_999)), false);
    assert.equal(await b.tryAcquireOrRenew(new Date(23_001)), true);
    assert.equal(store.holder(), 'b');
  });

  it('steps down when its renew hangs, before another replica may take over: never two leaders', async () => {
    const store = leaseStore();
    const timeline: string[] = [];
    const both: number[] = [];
    let aLeads = false;
    let bLeads = false;
    const a = new LeaderElector(store.client('a'), options('a'), log, (leading) => {
      aLeads = leading;
      timeline.push(`${Date.now()} a ${leading}`);
    });
    const b = new LeaderElector(store.client('b'), options('b'), log, (leading) => {
      bLeads = leading;
      timeline.push(`${Date.now()} b ${leading}`);
    });
    a.start();
    await settle();
    b.start();
    await settle();
    assert.equal(aLeads, true);
    store.hang('a');
    for (let t = 0; t < 40; t++) {
      mock.timers.tick(100);
      await settle();
      if (aLeads && bLeads) both.push(Date.now());
    }
    assert.deepEqual(both, [], `both led: ${timeline.join(', ')}`);
    assert.equal(aLeads, false);
    assert.equal(bLeads, true, timeline.join(', '));
    const stopped = Promise.all([a.stop(10), b.stop(10)]);
    mock.timers.tick(10);
    await stopped;
  });
});
