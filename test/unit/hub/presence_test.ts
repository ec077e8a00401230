import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceStatus } from '../../../src/api/hub.js';
import { connectPatch, disconnectPatch, effectiveLastSeen, isOffline, orphanPatch, type ReplicaBeat } from '../../../src/hub/presence.js';
import { replicaLeaseName } from '../../../src/hub/replicas.js';

const t0 = Date.parse('2026-12-01T10:00:00Z');
const min = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const options = { replica: 'hub-a', graceMs: 3 * min };

describe('presence', () => {
  it('a contact writes only when the stored status does not already say "connected here"', () => {
    assert.deepEqual(connectPatch(undefined, 'hub-a', t0), { connected: true, servedBy: 'hub-a', lastSeen: iso(t0) });
    assert.deepEqual(connectPatch({ connected: false, lastSeen: iso(t0 - 20 * min) }, 'hub-a', t0), { connected: true, servedBy: 'hub-a', lastSeen: iso(t0) });
    assert.equal(connectPatch({ connected: true, servedBy: 'hub-a', lastSeen: iso(t0 - 99 * min) }, 'hub-a', t0), undefined);
    // Moved to another replica: that is a change.
    assert.deepEqual(connectPatch({ connected: true, servedBy: 'hub-b', lastSeen: iso(t0 - min) }, 'hub-a', t0)?.servedBy, 'hub-a');
    // An older hub's status (lastSeen only) becomes presence at the first contact.
    assert.equal(connectPatch({ lastSeen: iso(t0) }, 'hub-a', t0)?.connected, true);
  });

  it('a device of this replica is written disconnected only after the grace, with its last contact', () => {
    const status: DeviceStatus = { connected: true, servedBy: 'hub-a', lastSeen: iso(t0) };
    const left = t0 + 10 * min;
    // Holding a poll: connected, however long.
    assert.equal(disconnectPatch(status, { open: 1, lastContact: t0 }, options, t0 + 600 * min), undefined);
    // A reconnecting agent (backoff up to 2 minutes) does not flap.
    assert.equal(disconnectPatch(status, { open: 0, lastContact: left }, options, left + 2 * min + 15_000), undefined);
    assert.equal(disconnectPatch(status, { open: 0, lastContact: left }, options, left + 3 * min), undefined);
    assert.deepEqual(disconnectPatch(status, { open: 0, lastContact: left }, options, left + 3 * min + 1), { connected: false, lastSeen: iso(left) });
    // Not ours (moved to hub-b), or already written disconnected: nothing.
    assert.equal(disconnectPatch({ ...status, servedBy: 'hub-b' }, { open: 0, lastContact: left }, options, left + 60 * min), undefined);
    assert.equal(disconnectPatch({ connected: false, lastSeen: iso(left) }, { open: 0, lastContact: left }, options, left + 60 * min), undefined);
  });

  it('the leader writes the devices of a replica that died disconnected once they had the grace to reconnect elsewhere', () => {
    const renewedAt = t0;
    const beats = new Map<string, ReplicaBeat>([['hub-dead', { renewedAt, durationMs: 2 * min }]]);
    const status: DeviceStatus = { connected: true, servedBy: 'hub-dead', lastSeen: iso(t0 - 30 * min) };
    assert.equal(orphanPatch(status, beats, options.graceMs, renewedAt + 5 * min), undefined, 'lease duration + grace not over yet');
    assert.deepEqual(orphanPatch(status, beats, options.graceMs, renewedAt + 5 * min + 1), { connected: false, lastSeen: iso(renewedAt) });
    // A replica that renews is alive.
    const alive = new Map<string, ReplicaBeat>([['hub-dead', { renewedAt: t0 + 60 * min, durationMs: 2 * min }]]);
    assert.equal(orphanPatch(status, alive, options.graceMs, t0 + 61 * min), undefined);
    // No Lease known: measured from the connect (a brand-new replica's device is not taken for an orphan).
    const fresh: DeviceStatus = { connected: true, servedBy: 'hub-new', lastSeen: iso(t0) };
    assert.equal(orphanPatch(fresh, beats, options.graceMs, t0 + min), undefined);
    assert.deepEqual(orphanPatch(fresh, beats, options.graceMs, t0 + 4 * min), { connected: false, lastSeen: iso(t0) });
    assert.equal(orphanPatch({ connected: false, lastSeen: iso(t0) }, beats, options.graceMs, t0 + 99 * min), undefined);
  });

  it('offline: never while connected; 15 minutes after the last contact once disconnected; old statuses by lastSeen', () => {
    const created = iso(t0 - 100 * min);
    assert.equal(isOffline({ connected: true, servedBy: 'hub-a', lastSeen: iso(t0 - 1000 * min) }, created, t0), false);
    const gone: DeviceStatus = { connected: false, lastSeen: iso(t0) };
    assert.equal(isOffline(gone, created, t0 + 15 * min), false);
    assert.equal(isOffline(gone, created, t0 + 15 * min + 1), true);
    assert.equal(isOffline({ lastSeen: iso(t0) }, created, t0 + 16 * min), true);
    assert.equal(isOffline({ lastSeen: iso(t0), reportedAt: iso(t0 + 10 * min) }, created, t0 + 16 * min), false, 'a later report counts as contact');
    assert.equal(isOffline(undefined, iso(t0), t0 + min), false, 'just enrolled');
    assert.equal(isOffline(undefined, iso(t0), t0 + 16 * min), true, 'enrolled and never seen');
    assert.equal(isOffline(undefined, undefined, t0), true);
  });

  it('the last contact a reader sees: now while connected, else the later of lastSeen and reportedAt', () => {
    assert.equal(effectiveLastSeen({ connected: true, servedBy: 'a', lastSeen: iso(t0) }, t0 + 99 * min), iso(t0 + 99 * min));
    assert.equal(effectiveLastSeen({ connected: false, lastSeen: iso(t0), reportedAt: iso(t0 - min) }, t0 + 99 * min), iso(t0));
    assert.equal(effectiveLastSeen({ reportedAt: 'not a time' }, t0), undefined);
  });

  it('names a replica heartbeat Lease validly and uniquely, whatever the identity', () => {
    const names = ['hub-7f9c-abc', 'Hub_Pod.1', '---', 'x'.repeat(300), 'hub-7f9c-abd'].map(replicaLeaseName);
    for (const name of names) assert.match(name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, name);
    assert.equal(new Set(names).size, names.length);
  });
});
