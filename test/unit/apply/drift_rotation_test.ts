/**
 * The drift rotation (apply/drift-rotation.ts): a sync checks its share of the Secrets DORIS
 * may not read (secrets × interval / period, at most `limit`), the least recently checked
 * first, so that every one is checked about once a period; and preflight sends a peek for the
 * chosen ones only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { DriftRotation } from '../../../src/apply/drift-rotation.js';
import { LiveSnapshot } from '../../../src/apply/live.js';
import { declaredBy, preflight, type PreflightContext } from '../../../src/apply/preflight.js';
import { objectId } from '../../../src/kube/objectid.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { desiredHashAnnotation, stampOwnership } from '../../../src/render/stamp.js';
import { FakeKube } from '../../fake/kube.js';
import { desired, forbidSecretReads } from './unreadable.js';

describe('DriftRotation', () => {
  it('chooses the least recently checked first, so that each of 5 Secrets is checked within 3 syncs of 2', () => {
    const rotation = new DriftRotation(2, 0, 0);
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const rounds = [0, 1, 2, 3].map(() => [...rotation.choose(ids)].sort());
    assert.deepEqual(rounds, [
      ['a', 'b'],
      ['c', 'd'],
      ['a', 'e'],
      ['b', 'c'],
    ]);
  });

  it('begins at a random point of the name order, so that a controller restarted every sync still reaches every Secret', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `s-${String(i).padStart(3, '0')}`);
    assert.deepEqual([...new DriftRotation(5, 0, 0.5).choose(ids)], ['s-050', 's-051', 's-052', 's-053', 's-054']);
    // Forty starts of one sync each: from the top every time, five Secrets are ever checked.
    const reached = (start: (i: number) => number) => {
      const seen = new Set<string>();
      for (let i = 0; i < 40; i += 1) for (const id of new DriftRotation(5, 0, start(i)).choose(ids)) seen.add(id);
      return seen.size;
    };
    assert.equal(
      reached(() => 0),
      5,
    );
    assert.equal(
      reached((i) => (i * 0.618) % 1),
      100,
    );
    // And by default the start is random.
    const firsts = new Set(Array.from({ length: 20 }, () => [...new DriftRotation(1).choose(ids)][0]));
    assert.ok(firsts.size > 1, `20 rotations all began at ${[...firsts]}`);
  });

  it('puts a Secret it has never checked first, and forgets the ones that are gone', () => {
    const rotation = new DriftRotation(2, 0, 0);
    rotation.choose(['a', 'b', 'c']);
    assert.deepEqual([...rotation.choose(['a', 'b', 'c', 'new'])].sort(), ['c', 'new']);
    // b left and came back: it counts as never checked.
    rotation.choose(['a', 'c']);
    assert.deepEqual([...rotation.choose(['a', 'b', 'c', 'new'])].sort(), ['b', 'new']);
  });

  it('checks all when there are no more than the limit, and always with limit 0', () => {
    assert.equal(new DriftRotation(3).choose(['a', 'b', 'c']).size, 3);
    const all = new DriftRotation(0);
    const ids = Array.from({ length: 5000 }, (_, i) => `s-${i}`);
    assert.equal(all.choose(ids).size, 5000);
    assert.equal(all.choose(ids).size, 5000);
  });

  it('with a 5 m period at a 1 m interval checks a fifth per sync (rounded up): each of 12 Secrets within 4 syncs', () => {
    const rotation = new DriftRotation(1000, 5 * 60_000);
    rotation.intervalMs = 60_000;
    const ids = Array.from({ length: 12 }, (_, i) => `s-${String(i).padStart(2, '0')}`);
    const rounds = [0, 1, 2, 3].map(() => [...rotation.choose(ids)]);
    assert.deepEqual(
      rounds.map((r) => r.length),
      [3, 3, 3, 3],
    );
    assert.deepEqual(new Set(rounds.flat()), new Set(ids));
  });

  it('checks every candidate up to the limit when the interval is no shorter than the period, or the limit is 0', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `s-${i}`);
    const slow = new DriftRotation(1000, 5 * 60_000);
    slow.intervalMs = 10 * 60_000;
    assert.equal(slow.choose(ids).size, 50);
    const capped = new DriftRotation(20, 5 * 60_000);
    capped.intervalMs = 4 * 60_000;
    assert.equal(capped.choose(ids).size, 20, 'the share (40) is capped by the limit');
    const all = new DriftRotation(0, 5 * 60_000);
    all.intervalMs = 60_000;
    assert.equal(all.choose(ids).size, 50);
  });

  it('checks at least one Secret per sync however long the period', () => {
    const rotation = new DriftRotation(1000, 24 * 3600_000);
    rotation.intervalMs = 1000;
    assert.equal(rotation.choose(['a', 'b', 'c']).size, 1);
  });
});

const secret = (name: string) => stampOwnership({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'apps' }, data: { k: 'dg==' } }, 'main');
const recorded = (object: KubeObject, stored: KubeObject): InventoryEntry =>
  ({
    id: objectId(object),
    uid: stored.metadata.uid,
    rv: stored.metadata.resourceVersion,
    h: object.metadata.annotations?.[desiredHashAnnotation],
  }) as InventoryEntry;
const peeks = (kube: FakeKube) => kube.requests.filter((r) => r.startsWith('PEEK')).length;

describe('preflight with a drift rotation', () => {
  function setup() {
    const kube = new FakeKube();
    forbidSecretReads(kube);
    const objects = ['s-0', 's-1', 's-2', 's-3', 's-4'].map(secret);
    const previous = new Map(objects.map((o) => [objectId(o), recorded(o, kube.seed(o))]));
    const rotation = new DriftRotation(2, 0, 0);
    const context = (deferDriftChecks = false): PreflightContext => ({
      client: kube,
      live: new LiveSnapshot(kube, 'main'),
      pipeline: 'main',
      previous,
      declared: declaredBy([]),
      concurrency: 4,
      deferDriftChecks,
      rotation,
    });
    return { kube, objects, context };
  }

  it('peeks at 2 of 5 unreadable Secrets per sync and leaves the others unchanged for later', async () => {
    const { kube, objects, context } = setup();
    const verdicts = [...(await preflight(context(), objects.map(desired))).values()];
    assert.equal(peeks(kube), 2);
    assert.deepEqual(
      verdicts.map((v) => (v.action === 'unchanged' ? (v.unchecked ?? 'checked') : v.action)),
      ['checked', 'checked', 'later', 'later', 'later'],
    );
  });

  it('finds a Secret edited by hand within 3 syncs, whichever it is', async () => {
    // s-0 and s-1 are checked first, then s-2 and s-3, then s-4 (with s-0 again).
    for (const [edited, first] of [
      [0, 1],
      [2, 2],
      [4, 3],
    ] as const) {
      const { kube, objects, context } = setup();
      kube.seed({ ...objects[edited]!, data: { k: 'ZWRpdGVk' } });
      const found: number[] = [];
      for (let sync = 1; sync <= 3; sync += 1) {
        const verdicts = [...(await preflight(context(), objects.map(desired))).values()];
        if (verdicts[edited]!.action === 'changed') found.push(sync);
      }
      assert.equal(found[0], first, `Secret s-${edited}: changed in syncs ${found.join(', ') || 'none'}`);
    }
  });

  it('is not consulted when the checks are deferred (a new commit): nothing is sent, all are deferred', async () => {
    const { kube, objects, context } = setup();
    const verdicts = [...(await preflight(context(true), objects.map(desired))).values()];
    assert.equal(peeks(kube), 0);
    assert.ok(verdicts.every((v) => v.action === 'unchanged' && v.unchecked === 'deferred'));
  });
});
