import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUtf8 } from '../../../src/render/utf8.js';

describe('decodeUtf8', () => {
  it('decodes UTF-8 and drops a byte-order mark', () => {
    assert.deepEqual(decodeUtf8(Buffer.from('\uFEFFa: é\n')), { text: 'a: é\n' });
  });

  const bad: [name: string, bytes: number[], offset: number, line: number, col: number][] = [
    ['a lone continuation byte', [0x61, 0x0a, 0x62, 0x80], 3, 2, 2],
    ['an invalid lead byte', [0xff], 0, 1, 1],
    ['a truncated sequence at the end', [0x61, 0xe2, 0x82], 1, 1, 2],
    ['an overlong slash', [0xc0, 0xaf], 0, 1, 1],
    ['a UTF-16 surrogate', [0x61, 0xed, 0xa0, 0x80], 1, 1, 2],
    ['a value past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0, 1, 1],
    ['a bad byte after a multi-byte character (columns count characters)', [0xc3, 0xa9, 0x20, 0xfe], 3, 1, 3],
  ];
  for (const [name, bytes, offset, line, col] of bad) {
    it(`finds ${name}`, () => {
      assert.deepEqual(decodeUtf8(Uint8Array.from(bytes)), { offset, line, col });
    });
  }
});
