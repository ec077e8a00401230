/** The doris command line without a cluster: validate's output and exit codes, usage errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const doris = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  });

describe('doris validate', () => {
  it('prints file:line:col problems of a broken repository and exits 1', () => {
    const result = doris('validate', 'testdata/render/broken/deploy');
    assert.equal(result.status, 1, result.stderr);
    // The same problems, at the same places, as the render's own fixture says; the paths are
    // the ones the user typed.
    const location = (line: string) => /^(.*?): (error|warning): /.exec(line)?.slice(1, 3).join(' ');
    const expected = readFileSync(new URL('../../../testdata/render/broken/expected.txt', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((line) => location(line.replace(/^deploy/, 'testdata/render/broken/deploy')));
    assert.deepEqual(result.stdout.trim().split('\n').map(location), expected);
    assert.match(result.stderr, /\d+ errors/);
  });

  it('exits 0 on a valid repository and says what it found', () => {
    const result = doris('validate', 'testdata/render/layout/deploy');
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /objects in \d+ waves; 0 errors/);
  });
});

describe('usage errors', () => {
  it('exits 2 for an unknown option or a missing Pipeline source', () => {
    assert.equal(doris('sync', '--no-such-flag').status, 2);
    assert.equal(doris('--output', 'yaml', 'validate', '.').status, 2);
  });
});
