import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { beyondLatin1, bundle } from '../../../scripts/bundle.js';

describe('the shipped bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doris-bundle-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('holds no character past Latin-1, so V8 keeps its source one byte a character', async () => {
    const out = join(dir, 'doris.mjs');
    await bundle('src/cli/main.ts', out);
    assert.equal(beyondLatin1(readFileSync(out, 'utf8')), undefined);
  });

  it('names the line, column and character of the first one', () => {
    assert.equal(beyondLatin1('plain · Latin-1 é'), undefined);
    assert.deepEqual(beyondLatin1('a\nhtml`<a>\u2190 back</a>`'), { line: 2, column: 9, char: '\u2190', near: 'a\nhtml`<a>\u2190 back</a>`' });
    assert.equal(beyondLatin1('x\u{1F600}')?.char, '\u{1F600}');
  });
});
