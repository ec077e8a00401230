import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Condition, SyncRecord } from '../../../src/api/pipeline.js';
import { appendHistory, maxHistory, removeCondition, setCondition } from '../../../src/status/conditions.js';

const t0 = new Date('2024-05-01T10:00:00.000Z');
const t1 = new Date('2024-05-01T10:05:00.000Z');

const ready = (status: Condition['status'], lastTransitionTime: string): Condition => ({
  type: 'Ready',
  status,
  reason: status === 'True' ? 'Succeeded' : 'ApplyFailed',
  message: 'm',
  lastTransitionTime,
});

const record = (n: number): SyncRecord => ({
  commit: `commit-${n}`,
  startedAt: t0.toISOString(),
  finishedAt: t1.toISOString(),
  result: 'Succeeded',
  message: `sync ${n}`,
  counts: { created: n, configured: 0, unchanged: 0, recreated: 0, pruned: 0 },
});

describe('setCondition', () => {
  it('adds a new condition with lastTransitionTime set to now', () => {
    const conditions = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied abc' }, t0);
    assert.deepEqual(conditions, [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied abc', lastTransitionTime: t0.toISOString() }]);
  });

  it('keeps lastTransitionTime when the status does not change, but takes the new reason and message', () => {
    const before = [ready('False', t0.toISOString())];
    const after = setCondition(before, { type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: 'wave 2 timed out' }, t1);
    assert.deepEqual(after, [
      { type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: 'wave 2 timed out', lastTransitionTime: t0.toISOString() },
    ]);
  });

  it('changes lastTransitionTime when the status changes', () => {
    const before = [ready('False', t0.toISOString())];
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok' }, t1);
    assert.equal(after.length, 1);
    assert.equal(after[0]?.status, 'True');
    assert.equal(after[0]?.lastTransitionTime, t1.toISOString());
  });

  it('keeps one condition per type', () => {
    let conditions = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'a' }, t0);
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: 'b' }, t1);
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status]),
      [['Ready', 'False']],
    );
  });

  it('keeps conditions sorted by type', () => {
    let conditions = setCondition(undefined, { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message: 'x' }, t0);
    conditions = setCondition(conditions, { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'y' }, t0);
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'z' }, t0);
    assert.deepEqual(
      conditions.map((c) => c.type),
      ['Ready', 'Reconciling', 'Stalled'],
    );
  });

  it('leaves other conditions untouched', () => {
    const stalled: Condition = { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message: 'bad', lastTransitionTime: t0.toISOString() };
    const after = setCondition([stalled], { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'bad' }, t1);
    assert.deepEqual(
      after.find((c) => c.type === 'Stalled'),
      stalled,
    );
  });

  it('does not change the list it is given', () => {
    const before = [ready('False', t0.toISOString())];
    setCondition(before, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok' }, t1);
    assert.deepEqual(before, [ready('False', t0.toISOString())]);
  });
});

describe('removeCondition', () => {
  it('removes only the condition of that type', () => {
    const conditions: Condition[] = [
      ready('True', t0.toISOString()),
      { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'applying', lastTransitionTime: t0.toISOString() },
    ];
    assert.deepEqual(removeCondition(conditions, 'Reconciling'), [ready('True', t0.toISOString())]);
  });

  it('is a no-op for a missing type and for no conditions', () => {
    const conditions = [ready('True', t0.toISOString())];
    assert.deepEqual(removeCondition(conditions, 'Stalled'), conditions);
    assert.deepEqual(removeCondition(undefined, 'Ready'), []);
  });
});

describe('appendHistory', () => {
  it('puts the newest record first', () => {
    const history = appendHistory(appendHistory(undefined, record(1)), record(2));
    assert.deepEqual(
      history.map((r) => r.commit),
      ['commit-2', 'commit-1'],
    );
  });

  it('keeps at most 20 records, dropping the oldest', () => {
    assert.equal(maxHistory, 20);
    let history: SyncRecord[] | undefined;
    for (let n = 1; n <= 25; n++) history = appendHistory(history, record(n));
    assert.ok(history);
    assert.equal(history.length, 20);
    assert.equal(history[0]?.commit, 'commit-25');
    assert.equal(history[19]?.commit, 'commit-6');
  });

  it('does not change the history it is given', () => {
    const before = [record(1)];
    appendHistory(before, record(2));
    assert.deepEqual(before, [record(1)]);
  });
});
