import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatProblems, validateRepo } from '../../../src/render/validate.js';

const testdata = fileURLToPath(new URL('../../../testdata/render/', import.meta.url));

describe('validateRepo', () => {
  it('reports every problem of a broken repository, in file order, as file:line:col: severity: message', async () => {
    const result = await validateRepo(join(testdata, 'broken'), 'deploy');
    const expected = await readFile(join(testdata, 'broken', 'expected.txt'), 'utf8');
    assert.equal(`${formatProblems(result.problems)}\n`, expected);
    assert.equal(result.objects, 6);
    assert.equal(result.waves, 3);
  });

  it('passes a good repository with warnings only', async () => {
    const result = await validateRepo(join(testdata, 'layout'), 'deploy');
    assert.deepEqual(
      result.problems.map((p) => p.severity),
      ['warning', 'warning', 'warning', 'warning'],
    );
    assert.equal(result.objects, 11);
    assert.equal(result.waves, 3);
  });

  it('validates the folder itself by default', async () => {
    const result = await validateRepo(join(testdata, 'prelude', 'deploy'));
    assert.deepEqual(result.problems, []);
    assert.equal(result.objects, 6);
    assert.equal(result.waves, 3);
  });

  it('reports a path problem instead of throwing', async () => {
    const result = await validateRepo(join(testdata, 'layout'), '../..');
    assert.equal(formatProblems(result.problems), '../..: error: path leaves the repository root; refused');
    assert.equal(result.objects, 0);
  });
});

describe('formatProblems', () => {
  it('writes one line per problem, leaving out an unknown line or column', () => {
    assert.equal(
      formatProblems([
        { severity: 'error', file: 'deploy/1-a/10-a.yml', line: 3, col: 5, message: 'bad' },
        { severity: 'warning', file: 'deploy/1-a/notes.yaml', message: 'skipped' },
        { severity: 'error', file: 'deploy/1-a/20-b.yml', line: 7, message: 'odd' },
      ]),
      ['deploy/1-a/10-a.yml:3:5: error: bad', 'deploy/1-a/notes.yaml: warning: skipped', 'deploy/1-a/20-b.yml:7: error: odd'].join('\n'),
    );
    assert.equal(formatProblems([]), '');
  });
});
