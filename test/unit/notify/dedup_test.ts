import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PipelineStatus, SyncCounts } from '../../../src/api/pipeline.js';
import { type DedupState, decide, type EndedSync, stateFromStatus } from '../../../src/notify/dedup.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const counts = (changed: number): SyncCounts => ({ created: changed, configured: 0, unchanged: 3, recreated: 0, pruned: 0 });
const context = { namespace: 'doris-system', name: 'edge', cluster: 'c1', images: [], now: new Date('2026-12-01T12:00:00Z') };

/** Runs syncs one after another through the dedup state, as the dispatcher does; returns the kinds sent per sync. */
function sequence(syncs: EndedSync[][], start: DedupState = {}): string[][] {
  let state = start;
  return syncs.map((ended) => {
    const decision = decide(state, ended, context);
    state = decision.state;
    return decision.notifications.map((n) => n.kind);
  });
}

describe('notification dedup', () => {
  it('the same failure repeated is sent once; a success that changes something is sent', () => {
    const fail = { commit: A, result: 'ApplyFailed', message: 'x' };
    assert.deepEqual(sequence([[fail], [fail], [fail], [{ commit: B, result: 'Succeeded', message: 'ok', counts: counts(2) }]]), [
      ['SyncFailed'],
      [],
      [],
      ['SyncSucceeded'],
    ]);
  });

  it('a different reason or another commit is a new failure', () => {
    assert.deepEqual(
      sequence([
        [{ commit: A, result: 'ApplyFailed', message: 'x' }],
        [{ commit: A, result: 'HealthCheckFailed', message: 'y' }],
        [{ commit: B, result: 'HealthCheckFailed', message: 'y' }],
        [{ commit: B, result: 'PruneGuardTriggered', message: 'z' }],
      ]),
      [['SyncFailed'], ['HealthFailed'], ['HealthFailed'], ['PruneGuard']],
    );
  });

  it('a no-op resync sends nothing; the recovery from a notified failure is sent even if nothing changed', () => {
    const noop = { commit: A, result: 'Succeeded', message: 'ok', counts: counts(0) };
    assert.deepEqual(sequence([[noop], [{ commit: A, result: 'ArtifactFailed', message: 'down' }], [noop], [noop]]), [
      [],
      ['SyncFailed'],
      ['SyncSucceeded'],
      [],
    ]);
  });

  it('after a recovery, the same failure is news again', () => {
    const fail = { commit: A, result: 'ApplyFailed', message: 'x' };
    const ok = { commit: A, result: 'Succeeded', message: 'ok', counts: counts(0) };
    assert.deepEqual(sequence([[fail], [ok], [fail]]), [['SyncFailed'], ['SyncSucceeded'], ['SyncFailed']]);
  });

  it('interrupted and suspended syncs are not failures and do not reset anything', () => {
    const fail = { commit: A, result: 'ApplyFailed', message: 'x' };
    assert.deepEqual(sequence([[fail], [{ commit: A, result: 'Interrupted', message: '' }], [{ commit: '', result: 'Suspended', message: '' }], [fail]]), [
      ['SyncFailed'],
      [],
      [],
      [],
    ]);
  });

  it('a failure before any commit counts against the last attempted commit, as status records it', () => {
    const status: PipelineStatus = {
      lastAttemptedCommit: A,
      conditions: [{ type: 'Ready', status: 'False', reason: 'ArtifactFailed', message: 'x', lastTransitionTime: '' }],
    };
    const seeded = stateFromStatus(status);
    const again = decide(seeded, [{ commit: '', result: 'ArtifactFailed', message: 'still down' }], { ...context, lastAttempted: A });
    assert.deepEqual(again.notifications, [], 'a restarted controller or the next CronJob run does not repeat it');
    const other = decide(seeded, [{ commit: '', result: 'CredentialsFailed', message: 'no Secret' }], { ...context, lastAttempted: A });
    assert.equal(other.notifications.length, 1);
  });

  it('status seeds nothing when the Pipeline is Ready, progressing or suspended', () => {
    for (const [status, reason] of [
      ['True', 'Succeeded'],
      ['Unknown', 'Progressing'],
      ['False', 'Suspended'],
    ] as const) {
      assert.deepEqual(stateFromStatus({ conditions: [{ type: 'Ready', status, reason, message: '', lastTransitionTime: '' }] }), {});
    }
    assert.deepEqual(stateFromStatus(undefined), {});
  });

  it('image digests that moved are one ImageRolled with the first successful commit, with the full SHA', () => {
    const images = [{ repository: 'r/app', tag: 'main', from: 'sha256:1', to: 'sha256:2', at: '' }];
    const { notifications } = decide(
      {},
      [
        { commit: A, result: 'Succeeded', message: 'ok', counts: counts(1) },
        { commit: B, result: 'Succeeded', message: 'ok', counts: counts(1) },
      ],
      { ...context, images },
    );
    assert.deepEqual(
      notifications.map((n) => [n.kind, n.commit]),
      [
        ['SyncSucceeded', A],
        ['ImageRolled', A],
        ['SyncSucceeded', B],
      ],
    );
    assert.deepEqual(notifications[1]?.images, images);
    const pinned = decide({}, [{ commit: A, result: 'Succeeded', message: 'ok', counts: counts(1) }], {
      ...context,
      images: [{ repository: 'r/app', tag: 'main', to: 'sha256:1', at: '' }],
    });
    assert.deepEqual(
      pinned.notifications.map((n) => n.kind),
      ['SyncSucceeded'],
      'a first digest is a pin, not a roll',
    );
    const failed = decide({}, [{ commit: A, result: 'HealthCheckFailed', message: 'x' }], { ...context, images });
    assert.deepEqual(
      failed.notifications.map((n) => n.kind),
      ['HealthFailed'],
      'an image that did not roll is not announced',
    );
  });
});
