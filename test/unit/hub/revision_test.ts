/** Revision ids and the bounded revision history (plain data). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Revision } from '../../../src/api/hub.js';
import { nextRevisions, revisionId, revisionsReferenced } from '../../../src/hub/revision.js';

const commit = 'a'.repeat(40);
const bundle = `sha256:${'b'.repeat(64)}`;
const d1 = `sha256:${'1'.repeat(64)}`;
const d2 = `sha256:${'2'.repeat(64)}`;

describe('revisionId', () => {
  it('is r- and 16 hex digits, a pure function of its inputs', () => {
    const id = revisionId(commit, bundle, [{ repository: 'r/a', digest: d1 }]);
    assert.match(id, /^r-[0-9a-f]{16}$/);
    assert.equal(revisionId(commit, bundle, [{ repository: 'r/a', digest: d1 }]), id);
  });

  it('does not depend on the order of images, nor on images without a digest', () => {
    const a = revisionId(commit, bundle, [
      { repository: 'r/a', digest: d1 },
      { repository: 'r/b', digest: d2 },
    ]);
    const b = revisionId(commit, bundle, [{ repository: 'r/b', digest: d2 }, { repository: 'r/unresolved' }, { repository: 'r/a', digest: d1 }]);
    assert.equal(a, b);
  });

  it('changes with the commit, the bundle, any digest, and which repository has it', () => {
    const base = revisionId(commit, bundle, [{ repository: 'r/a', digest: d1 }]);
    const others = [
      revisionId('c'.repeat(40), bundle, [{ repository: 'r/a', digest: d1 }]),
      revisionId(commit, `sha256:${'c'.repeat(64)}`, [{ repository: 'r/a', digest: d1 }]),
      revisionId(commit, bundle, [{ repository: 'r/a', digest: d2 }]),
      revisionId(commit, bundle, [{ repository: 'r/b', digest: d1 }]),
      revisionId(commit, bundle, []),
    ];
    assert.equal(new Set([base, ...others]).size, others.length + 1);
  });
});

const rev = (i: number): Revision => ({
  id: `r-${i.toString(16).padStart(16, '0')}`,
  commit,
  bundle,
  bundleSize: 1,
  images: [],
  createdAt: '2026-01-01T00:00:00Z',
});

describe('nextRevisions', () => {
  it('puts the new revision first and bounds the list', () => {
    let list: Revision[] = [];
    for (let i = 1; i <= 14; i++) list = nextRevisions(rev(i), list, undefined, 10);
    assert.deepEqual(
      list.map((r) => r.id),
      Array.from({ length: 10 }, (_, k) => rev(14 - k).id),
    );
  });

  it('a revision seen before moves to the front instead of appearing twice', () => {
    const list = nextRevisions(rev(1), [rev(3), rev(2), rev(1)], undefined, 10);
    assert.deepEqual(
      list.map((r) => r.id),
      [rev(1).id, rev(3).id, rev(2).id],
    );
  });

  it('keeps a revision a rollout still references, beyond the bound', () => {
    const previous = Array.from({ length: 10 }, (_, k) => rev(10 - k));
    const list = nextRevisions(rev(11), previous, { stages: [{ name: 'canary', revision: rev(1).id }], lastGood: rev(2).id }, 3);
    assert.deepEqual(
      list.map((r) => r.id),
      [rev(11).id, rev(10).id, rev(9).id, rev(2).id, rev(1).id],
    );
  });

  it('finds revision ids anywhere in a rollout, and nothing else', () => {
    assert.deepEqual([...revisionsReferenced({ a: [{ b: rev(5).id }], c: 'r-nothex', d: 12, e: null })], [rev(5).id]);
    assert.deepEqual([...revisionsReferenced(undefined)], []);
  });
});
