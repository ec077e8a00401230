import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BranchSource } from '../../../src/source/branch.js';
import type { GitSource } from '../../../src/source/git.js';

/** A GitSource that records calls; each prefetch ends when the test says. */
function recordingGit() {
  const calls: string[] = [];
  let finish: () => void = () => undefined;
  const git = {
    resolveBranch: async () => {
      calls.push('resolve');
      return 'b'.repeat(40);
    },
    prefetchCommit: (sha: string) => {
      calls.push(`prefetch ${sha.slice(0, 4)}`);
      return new Promise<void>((resolve) => {
        finish = () => {
          calls.push('prefetch done');
          resolve();
        };
      });
    },
    fetchCommit: async (sha: string) => {
      calls.push(`fetch ${sha.slice(0, 4)}`);
    },
    commitsBetween: async () => {
      calls.push('between');
      return [];
    },
  } as unknown as GitSource;
  return { git, calls, finish: () => finish() };
}

const spec = { url: 'https://example.com/r.git', branch: 'main', path: 'deploy', interval: '1m' };

describe('BranchSource.prefetch: the commit a push names', () => {
  it('is fetched while the branch is resolved; the fetch of the head waits for it (one fetch into the cache at a time)', async () => {
    const { git, calls, finish } = recordingGit();
    const source = new BranchSource(git, spec);
    source.prefetch('a'.repeat(40));
    const head = await source.resolve();
    const fetched = source.fetchCommit(head);
    const between = source.commitsBetween('c'.repeat(40), head);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['prefetch aaaa', 'resolve'], 'nothing else touches the cache while the prefetch runs');
    finish();
    await Promise.all([fetched, between]);
    assert.deepEqual(calls.slice(2).sort(), ['between', 'fetch bbbb', 'prefetch done']);
    assert.equal(calls[2], 'prefetch done');
  });

  it('ignores what is not a commit id: nothing reaches git', async () => {
    for (const bad of ['0'.repeat(40), 'a'.repeat(39), 'A'.repeat(40), '--upload-pack=false', `${'a'.repeat(40)}\n`, '']) {
      const { git, calls } = recordingGit();
      const source = new BranchSource(git, spec);
      source.prefetch(bad);
      await source.fetchCommit('b'.repeat(40));
      assert.deepEqual(calls, ['fetch bbbb'], JSON.stringify(bad));
    }
  });
});
