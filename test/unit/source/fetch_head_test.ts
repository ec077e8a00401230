/**
 * A sync a push triggered asks git for the branch head and fetches it in one `git fetch`
 * (source/git.ts `fetchBranchHead`), read back from FETCH_HEAD.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BranchSource } from '../../../src/source/branch.js';
import { GitSource, branchHeadOf } from '../../../src/source/git.js';
import { LocalRepo } from '../../fake/git-repo.js';

const scratch = mkdtempSync(join(tmpdir(), 'doris-fetch-head-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const a = 'a'.repeat(40);

describe('branchHeadOf: the head FETCH_HEAD names for one branch, or nothing', () => {
  const cases: Array<[string, string, string | undefined, string]> = [
    [`${a}\t\tbranch 'main' of https://example.com/r\n`, 'main', a, 'the branch fetched'],
    [`${a}\t\tbranch 'dev' of https://example.com/r\n`, 'main', undefined, "another branch's fetch wrote it meanwhile"],
    [`${a}\t\tbranch 'main-2' of https://example.com/r\n`, 'main', undefined, 'a branch whose name only starts the same'],
    [`${a}\tnot-for-merge\tbranch 'main' of https://example.com/r\n`, 'main', undefined, 'not what a fetch of one branch writes'],
    [`${a}\t\tbranch 'main' of x\n${a}\t\tbranch 'main' of y\n`, 'main', undefined, 'two lines'],
    ["zzz\t\tbranch 'main' of x\n", 'main', undefined, 'not a commit id'],
    ['', 'main', undefined, 'empty'],
  ];
  for (const [text, branch, expected, why] of cases) it(why, () => assert.equal(branchHeadOf(text, branch), expected));
});

describe('BranchSource.fetchHead', () => {
  const repo = new LocalRepo(join(scratch, 'repo'), scratch);
  const cacheDir = join(scratch, 'cache');
  const git = new GitSource(repo.dir, {}, { cacheDir, timeoutMs: 30_000 });
  const source = new BranchSource(git, { url: repo.dir, branch: 'main', path: 'deploy', interval: '1m' });

  it('answers what resolve answers, with the commit already fetched', async () => {
    const first = repo.commit({ 'deploy/a.yml': 'kind: A\n' });
    assert.equal(await source.fetchHead(), first);
    assert.equal(await source.resolve(), first);
    const second = repo.commit({ 'deploy/a.yml': 'kind: B\n' });
    assert.equal(await source.fetchHead(), second);
    assert.equal(await git.fetchBranchHead('main'), second, 'read from FETCH_HEAD, not asked again');
    // Fetched: the checkout needs nothing more from the server.
    const dir = await git.checkout(second, join(scratch, 'checkouts'));
    assert.ok(dir.includes(second.slice(0, 12)));
  });

  it('falls back to asking (ls-remote) when FETCH_HEAD names another branch, and says so when the branch is gone', async () => {
    const head = repo.commit({ 'deploy/a.yml': 'kind: C\n' });
    const other = new BranchSource(git, { url: repo.dir, branch: 'no-such-branch', path: 'deploy', interval: '1m' });
    await assert.rejects(other.fetchHead(), /branch no-such-branch not found/);
    // FETCH_HEAD named another branch (a fetch for another Pipeline wrote it meanwhile), or git failed.
    for (const trouble of [async () => undefined, async () => Promise.reject(new Error('fetch failed'))]) {
      const racing = new GitSource(repo.dir, {}, { cacheDir, timeoutMs: 30_000 });
      racing.fetchBranchHead = trouble;
      assert.equal(await new BranchSource(racing, { url: repo.dir, branch: 'main', path: 'deploy', interval: '1m' }).fetchHead(), head);
    }
  });
});
