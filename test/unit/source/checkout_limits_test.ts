/**
 * A commit's tree is measured before it is written (source/git.ts `checkTreeSize`): git
 * compresses, so a small push can hold a tree that fills the work dir, the Pod's emptyDir.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DorisError } from '../../../src/errors.js';
import { GitSource, treeSize } from '../../../src/source/git.js';
import { LocalRepo } from '../../fake/git-repo.js';

const scratch = mkdtempSync(join(tmpdir(), 'doris-checkout-limits-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('treeSize', () => {
  it('counts files and blob bytes of `git ls-tree -r -l -z`, a submodule as a file without size', () => {
    const listing = [
      '100644 blob 0123456789abcdef0123456789abcdef01234567      12\tdeploy/a.yml',
      '100755 blob 0123456789abcdef0123456789abcdef01234567 1048576\tbig file with spaces.bin',
      '160000 commit 0123456789abcdef0123456789abcdef01234567       -\tvendor/sub',
      '',
    ].join('\0');
    assert.deepEqual(treeSize(listing), { files: 3, bytes: 1_048_588 });
  });
});

describe('GitSource.checkout', () => {
  const repo = new LocalRepo(join(scratch, 'repo'), scratch);
  const checkouts = join(scratch, 'checkouts');
  const source = new GitSource(repo.dir, {}, { cacheDir: join(scratch, 'cache'), timeoutMs: 30_000, checkoutLimits: { bytes: 1024 * 1024, files: 10 } });

  it('refuses a commit whose tree is past the byte limit, however well it compresses, and writes nothing', async () => {
    // 4 MiB of zeros: a few KiB in git.
    const sha = repo.commit({ 'deploy/1-app/10-a.yml': 'kind: A\n', 'junk/big.bin': Buffer.alloc(4 * 1024 * 1024) });
    await source.fetchCommit(sha, 'main');
    await assert.rejects(source.checkout(sha, checkouts), (error: unknown) => {
      assert.ok(error instanceof DorisError && error.code === 'BuildFailed', String(error));
      assert.match(error.message, /its tree holds 2 files, 4 MiB, over the limit of a checkout \(10 files, 1 MiB\); refused before writing it/);
      return true;
    });
    assert.deepEqual(existsSync(checkouts) ? readdirSync(checkouts) : [], []);
  });

  it('refuses a commit of more files than the limit', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 11; i += 1) files[`deploy/1-app/${i}.yml`] = 'kind: A\n';
    const sha = repo.commit({ 'junk/big.bin': null, ...files });
    await source.fetchCommit(sha, 'main');
    await assert.rejects(source.checkout(sha, checkouts), /its tree holds 12 files, 1 KiB, over the limit/);
  });

  it('writes a commit within the limits', async () => {
    const sha = repo.commit(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`deploy/1-app/${i}.yml`, i < 9 ? 'kind: A\n' : null])));
    await source.fetchCommit(sha, 'main');
    const dir = await source.checkout(sha, checkouts);
    assert.equal(readdirSync(join(dir, 'deploy', '1-app')).length, 10);
  });
});
