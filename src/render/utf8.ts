/**
 * Manifests must be UTF-8, as kubectl requires. Decoding leniently would replace a bad byte by
 * U+FFFD and apply that — a value nobody wrote. So a file is decoded strictly, and when it is
 * not UTF-8 the error says where: the byte offset of the first bad byte, and its line and
 * column (column counted in characters, as in every other problem).
 */

const strict = new TextDecoder('utf-8', { fatal: true });

export type Decoded = { text: string } | { offset: number; line: number; col: number };

/** The text of `bytes` (a leading byte-order mark dropped), or where it stops being UTF-8. */
export function decodeUtf8(bytes: Uint8Array): Decoded {
  try {
    return { text: strict.decode(bytes) };
  } catch {
    const offset = firstInvalidByte(bytes);
    let lineStart = 0;
    let line = 1;
    for (let i = 0; i < offset; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const col = [...strict.decode(bytes.subarray(lineStart, offset))].length + 1;
    return { offset, line, col };
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let length: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + length > bytes.length) return i;
    let code = b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8 either.
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return i;
    i += length;
  }
  return bytes.length;
}
