import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findTooDeep } from '../../../src/render/nesting.js';

describe('findTooDeep', () => {
  it('passes ordinary manifests', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {app: web}\ndata:\n  a: [1, 2, [3]]\n';
    assert.equal(findTooDeep(text, 10), undefined);
  });

  it('refuses deep flow nesting at the bracket that crosses the limit', () => {
    assert.deepEqual(findTooDeep(`a: ${'['.repeat(20)}`, 10), { line: 1, col: 13 });
  });

  it('counts block indicators on one line', () => {
    assert.deepEqual(findTooDeep(`${'- '.repeat(20)}x`, 10), { line: 1, col: 21 });
  });

  it('counts indentation, two spaces a level', () => {
    const text = Array.from({ length: 30 }, (_, i) => `${'  '.repeat(i)}k:`).join('\n');
    assert.deepEqual(findTooDeep(text, 10), { line: 11, col: 22 });
  });

  it('does not count brackets and colons in quoted strings, comments and block scalars', () => {
    const brackets = '[['.repeat(30);
    const text = [
      `a: "${brackets}: - : ${brackets}"`,
      `b: '${brackets} '' ${brackets}'`,
      `c: x # ${brackets}`,
      'd: |',
      `  ${brackets}`,
      `    - - - - - - - - - - - - - - - -`,
      'e: {"k": 1, "l": 2, "m": 3, "n": 4, "o": 5, "p": 6, "q": 7, "r": 8, "s": 9, "t": 10, "u": 11}',
    ].join('\n');
    assert.equal(findTooDeep(text, 10), undefined);
  });

  it('resets at a new document', () => {
    assert.equal(findTooDeep(`a: ${'['.repeat(8)}\n---\nb: ${'['.repeat(8)}\n`, 10), undefined);
  });
});
