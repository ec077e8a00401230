/**
 * The per-file parse cache (render/cache.ts `FileCache`, issue 15): a push that changes one
 * file of many re-parses that file only, and what a render reports never depends on whether
 * a file came from the cache.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileCache } from '../../../src/render/cache.js';
import { inspectRepo, renderRepo } from '../../../src/render/layout.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'doris-file-cache-'));
  roots.push(root);
  write(root, files);
  return root;
}

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const configMap = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const objectsOf = (waves: Awaited<ReturnType<typeof renderRepo>>['waves']) => waves.flatMap((w) => w.steps.flatMap((s) => s.objects.map((o) => o.object)));

describe('FileCache: parse only what a commit changed', () => {
  it('re-parses the changed file and hands out the same (frozen) objects for the others', async () => {
    const root = repo({ 'deploy/1-a/10-a.yaml': configMap('a', '1'), 'deploy/2-b/10-b.yaml': configMap('b', '1') });
    const files = new FileCache(1000);
    const first = objectsOf((await renderRepo(root, 'deploy', { files })).waves);
    write(root, { 'deploy/2-b/10-b.yaml': configMap('b', '2') });
    const second = objectsOf((await renderRepo(root, 'deploy', { files })).waves);
    assert.equal(second[0], first[0], 'the unchanged file was not parsed again');
    assert.ok(Object.isFrozen(second[0]));
    assert.notEqual(second[1], first[1]);
    assert.deepEqual(second[1]?.data, { value: '2' });
    // What a render did not use is gone: the first version of b.
    assert.equal(files.size, 2);
  });

  it('keys by path: the same bytes under another name are reported under that name', async () => {
    const broken = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n';
    const root = repo({ 'deploy/1-a/10-a.yaml': configMap('a', '1'), 'deploy/1-a/20-b.yaml': configMap('b', '1') });
    const files = new FileCache(1000);
    await renderRepo(root, 'deploy', { files });
    write(root, { 'deploy/1-a/20-b.yaml': broken });
    const { problems } = await inspectRepo(root, 'deploy', { files });
    assert.deepEqual(
      problems.filter((p) => p.severity === 'error').map((p) => p.file),
      ['deploy/1-a/20-b.yaml'],
    );
    // A file with problems is never kept: the next render reports them again.
    const again = await inspectRepo(root, 'deploy', { files });
    assert.deepEqual(again.problems, problems);
  });

  it('parses again, and refuses, a cached file that no longer fits the commit-wide budget', async () => {
    const root = repo({ 'deploy/1-a/10-a.yaml': configMap('a', '1') });
    const files = new FileCache(1000);
    await renderRepo(root, 'deploy', { files });
    // The same file; now an earlier one takes the whole document budget.
    write(root, { 'deploy/0-first/10-many.yaml': `${configMap('m1', '1')}---\n${configMap('m2', '1')}` });
    const { problems } = await inspectRepo(root, 'deploy', { files, maxTotalDocuments: 2 });
    const errors = problems.filter((p) => p.severity === 'error');
    assert.equal(errors.length, 1, JSON.stringify(problems));
    assert.equal(errors[0]?.file, 'deploy/1-a/10-a.yaml');
    assert.match(errors[0]?.message ?? '', /YAML documents/);
  });

  it('keeps a file parsed under other limits apart', async () => {
    const root = repo({ 'deploy/1-a/10-a.yaml': configMap('a', 'x'.repeat(200)) });
    const files = new FileCache(1000);
    await renderRepo(root, 'deploy', { files });
    const { problems } = await inspectRepo(root, 'deploy', { files, maxFileBytes: 100 });
    assert.equal(problems.filter((p) => p.severity === 'error').length, 1);
  });

  it('holds at most maxDocuments documents', async () => {
    const root = repo({ 'deploy/1-a/10-a.yaml': configMap('a', '1'), 'deploy/1-a/20-b.yaml': configMap('b', '1') });
    const files = new FileCache(1);
    await renderRepo(root, 'deploy', { files });
    assert.equal(files.size, 1);
  });

  it('holds at most maxBytes of documents: a large file is parsed again, not kept', async () => {
    const root = repo({ 'deploy/1-a/10-small.yaml': configMap('a', '1'), 'deploy/1-a/20-large.yaml': configMap('b', 'x'.repeat(4000)) });
    const files = new FileCache(1000, 1000);
    const first = objectsOf((await renderRepo(root, 'deploy', { files })).waves);
    assert.equal(files.size, 1);
    const second = objectsOf((await renderRepo(root, 'deploy', { files })).waves);
    assert.equal(second[0], first[0], 'the small file was kept');
    assert.notEqual(second[1], first[1], 'the large file was kept past the bound');
    assert.deepEqual(second[1], first[1]);
  });
});
