/**
 * What every replica tells a device, read from the Fleet alone: the engine's output, stored
 * as the leader would store it (through JSON), gives the same targets back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Device, Fleet, Revision } from '../../../src/api/hub.js';
import { view } from '../../../src/hub/rollout/driver.js';
import { type DeviceView, step } from '../../../src/hub/rollout/engine.js';
import { parseRolloutPolicy } from '../../../src/hub/rollout/policy.js';
import { parseRolloutStatus, rolloutTarget, targetRevisionId } from '../../../src/hub/rollout/targets.js';

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16).slice(0, 16)}`,
  commit: String(n).repeat(40).slice(0, 40),
  bundle: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  bundleSize: 10,
  images: [],
  createdAt: '2026-12-01T00:00:00Z',
});
const A = revision(1);
const B = revision(2);
const rollout = { stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, soak: '1h' }] };
const now = new Date('2026-12-01T12:00:00Z');

function fleet(status: Fleet['status'], spec: unknown = { git: { url: 'https://git.test/x.git' }, rollout }): Fleet {
  return { apiVersion: 'hub.doris.dev/v1alpha1', kind: 'Fleet', metadata: { name: 'f', namespace: 'hub' }, spec, status };
}

function device(name: string, labels: Record<string, string> = {}): Device {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Device',
    metadata: { name, namespace: 'hub', labels: { 'hub.doris.dev/fleet': 'f', ...labels } },
    spec: { fleet: 'f', tokenHash: `sha256:${'0'.repeat(64)}` },
    status: { lastSeen: now.toISOString() },
  };
}

const canary = device('c1', { ring: 'canary' });
const other = device('d1');

/** A rollout of B, after A was complete, as the leader stores it. */
function rollingOut(): Fleet {
  const views: DeviceView[] = [canary, other].map(view);
  const policy = parseRolloutPolicy(rollout);
  const first = step({ policy, state: undefined, newest: A, devices: views, now });
  const second = step({ policy, state: first.state, newest: B, devices: views, now });
  return fleet({ revision: B, revisions: [B, A], rollout: JSON.parse(JSON.stringify(second.state)) });
}

describe('rolloutTarget', () => {
  it('answers each stage its revision, from the stored status alone', () => {
    const f = rollingOut();
    assert.equal(rolloutTarget(f, canary)?.id, B.id);
    assert.equal(rolloutTarget(f, other)?.id, A.id);
    assert.deepEqual(rolloutTarget(f, other), A, 'the whole Revision, from status.revisions');
  });

  it('follows a device to its new stage when its labels change', () => {
    const f = rollingOut();
    assert.equal(rolloutTarget(f, device('d1', { ring: 'canary' }))?.id, B.id);
  });

  it('gives the newest revision without a policy, or before any rollout is recorded', () => {
    assert.equal(rolloutTarget(fleet({ revision: B, revisions: [B, A] }, { git: {} }), canary)?.id, B.id);
    assert.equal(rolloutTarget(fleet({ revision: B, revisions: [B, A] }), other)?.id, B.id);
  });

  it('gives nothing for a Fleet that does not exist or has no revision', () => {
    assert.equal(rolloutTarget(undefined, canary), undefined);
    assert.equal(rolloutTarget(fleet({}), canary), undefined);
  });

  it('keeps each device in the stage last written to it while the policy is invalid', () => {
    const f = rollingOut();
    const broken = fleet(f.status, { git: {}, rollout: { stages: [{ name: 'Bad Name', selector: {} }] } });
    assert.equal(targetRevisionId(broken, { ...canary, status: { stage: 'canary' } }), B.id);
    assert.equal(targetRevisionId(broken, { ...other, status: { stage: '(rest)' } }), A.id);
    assert.equal(targetRevisionId(broken, canary), A.id, 'no stage written yet: the last good revision');
  });

  it('gives a stage the leader has not recorded yet what the fleet ran before', () => {
    const f = rollingOut();
    const more = fleet(f.status, { git: {}, rollout: { stages: [{ name: 'early', selector: { matchLabels: { ring: 'early' } } }, ...rollout.stages] } });
    assert.equal(targetRevisionId(more, device('e1', { ring: 'early' })), A.id);
  });

  it('gives nothing for a revision no longer in status.revisions (the device keeps what it runs)', () => {
    const f = rollingOut();
    const gone = fleet({ ...f.status, revisions: [B] });
    assert.equal(rolloutTarget(gone, other), undefined);
  });
});

describe('parseRolloutStatus', () => {
  it('reads back what the engine wrote, unchanged', () => {
    const stored = rollingOut().status?.rollout;
    assert.deepEqual(parseRolloutStatus(stored), stored);
  });

  const bad: Array<[string, unknown]> = [
    ['a string', 'Complete'],
    ['an unknown state', { state: 'Done', revision: 'r-1', stages: [], startedAt: '' }],
    ['no revision', { state: 'Complete', stages: [], startedAt: '' }],
    ['stages not a list', { state: 'Complete', revision: 'r-1', stages: {}, startedAt: '' }],
    ['a negative count', { state: 'Complete', revision: 'r-1', stages: [{ name: 'a', devices: -1 }], startedAt: '' }],
  ];
  for (const [what, raw] of bad) it(`refuses ${what} (treated as no rollout recorded)`, () => assert.equal(parseRolloutStatus(raw), undefined));
});

describe('view', () => {
  it('takes the later of lastSeen and reportedAt as the last contact', () => {
    const d = device('x');
    d.status = { lastSeen: '2026-12-01T10:00:00Z', reportedAt: '2026-12-01T11:00:00Z' };
    assert.equal(view(d).lastSeen, '2026-12-01T11:00:00Z');
    d.status = {};
    assert.equal(view(d).lastSeen, undefined, 'never seen');
  });

  it('carries presence: a connected device is online however old its lastSeen', () => {
    const d = device('x');
    const policy = parseRolloutPolicy(rollout);
    d.status = { lastSeen: '2026-11-01T00:00:00Z', connected: true } as Device['status'];
    const v = view(d, now.getTime());
    assert.equal(v.connected, true);
    const online = step({ policy, state: undefined, newest: A, devices: [v], now });
    assert.equal(online.state?.stages.find((s) => s.name === '(rest)')?.offline, 0);
    assert.equal(online.wakeAt, undefined);
    d.status = { lastSeen: '2026-11-01T00:00:00Z', connected: false } as Device['status'];
    const away = step({ policy, state: undefined, newest: A, devices: [view(d, now.getTime())], now });
    assert.equal(away.state?.stages.find((s) => s.name === '(rest)')?.offline, 1);
  });
});
