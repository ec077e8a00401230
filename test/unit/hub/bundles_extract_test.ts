/**
 * The agent unpacks what it downloads: a hostile table of crafted archives (escaping paths,
 * links, devices, lying sizes, too many entries, bombs, broken gzip and headers), each refused
 * with a message naming the problem and leaving the target folder empty.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { extractBundle, TarError } from '../../../src/hub/bundles.js';
import { readTar, writeTar } from '../../../src/hub/tar.js';

const scratch = mkdtempSync(join(tmpdir(), 'doris-extract-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(scratch, `t${n++}`);

interface Raw {
  name: string;
  type?: string;
  data?: Buffer | string;
  /** Overrides the size field (octal text, or raw bytes for base-256). */
  size?: string | Buffer;
  linkname?: string;
  prefix?: string;
  mode?: number;
  mtime?: number;
  uid?: number;
  badChecksum?: boolean;
}

/** One ustar header (+ data), written by hand so that anything can be forged. */
function entry(raw: Raw): Buffer {
  const data = Buffer.from(raw.data ?? '');
  const h = Buffer.alloc(512);
  h.write(raw.name, 0, 'utf8');
  h.write(`${(raw.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100);
  h.write(`${(raw.uid ?? 0).toString(8).padStart(7, '0')}\0`, 108);
  h.write('0000000\0', 116);
  if (Buffer.isBuffer(raw.size)) raw.size.copy(h, 124);
  else h.write(`${raw.size ?? data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(raw.mtime ?? 0).toString(8).padStart(11, '0')}\0`, 136);
  h.write(raw.type ?? '0', 156);
  if (raw.linkname) h.write(raw.linkname, 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  if (raw.prefix) h.write(raw.prefix, 345);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${(sum + (raw.badChecksum ? 1 : 0)).toString(8).padStart(6, '0')}\0 `, 148);
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([h, data, Buffer.alloc(pad)]);
}

const end = Buffer.alloc(1024);
const tar = (...entries: Raw[]) => Buffer.concat([...entries.map(entry), end]);
const pax = (records: Record<string, string>) =>
  Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 2;
      while (String(len).length + body.length !== len) len = String(len).length + body.length;
      return `${len}${body}`;
    })
    .join('');

const hostile: Array<{ name: string; bytes: Buffer; error: RegExp; limits?: { maxEntries: number; maxBytes: number } }> = [
  { name: 'parent segment', bytes: gzipSync(tar({ name: '../x', data: 'x' })), error: /"\.\.\/x": "\.\." in path refused/ },
  { name: 'parent segment deeper', bytes: gzipSync(tar({ name: 'a/../../x', data: 'x' })), error: /"\.\." in path refused/ },
  { name: 'parent through the ustar prefix', bytes: gzipSync(tar({ prefix: '..', name: 'x', data: 'x' })), error: /"\.\.\/x".*"\.\." in path refused/ },
  { name: 'absolute path', bytes: gzipSync(tar({ name: '/etc/x', data: 'x' })), error: /"\/etc\/x": absolute path refused/ },
  { name: 'symlink', bytes: gzipSync(tar({ name: 'link', type: '2', linkname: '/etc/passwd' })), error: /"link" is a symlink/ },
  { name: 'hardlink', bytes: gzipSync(tar({ name: 'a', data: 'a' }, { name: 'hard', type: '1', linkname: 'a' })), error: /"hard" is a hardlink/ },
  { name: 'character device', bytes: gzipSync(tar({ name: 'null', type: '3' })), error: /"null" is a character device/ },
  { name: 'block device', bytes: gzipSync(tar({ name: 'sda', type: '4' })), error: /is a block device/ },
  { name: 'fifo', bytes: gzipSync(tar({ name: 'pipe', type: '6' })), error: /is a FIFO/ },
  { name: 'GNU long name', bytes: gzipSync(tar({ name: '././@LongLink', type: 'L', data: '../../evil\0' })), error: /GNU long name/ },
  { name: 'unknown type', bytes: gzipSync(tar({ name: 'x', type: 'Z' })), error: /unknown entry type "Z"/ },
  {
    name: 'pax path escaping',
    bytes: gzipSync(tar({ name: 'PaxHeader', type: 'x', data: pax({ path: '../../evil' }) }, { name: 'harmless', data: 'x' })),
    error: /"\.\.\/\.\.\/evil".*"\.\." in path refused/,
  },
  {
    name: 'pax path absolute',
    bytes: gzipSync(tar({ name: 'P', type: 'x', data: pax({ path: '/root/.ssh/authorized_keys' }) }, { name: 'ok', data: 'k' })),
    error: /absolute path refused/,
  },
  { name: 'malformed pax', bytes: gzipSync(tar({ name: 'P', type: 'x', data: '999 path=x\n' }, { name: 'ok', data: 'k' })), error: /malformed pax header/ },
  { name: 'control character', bytes: gzipSync(tar({ name: 'a\nerror: forged', data: 'x' })), error: /control character/ },
  { name: 'backslash', bytes: gzipSync(tar({ name: '..\\x', data: 'x' })), error: /backslash/ },
  {
    name: 'size beyond the archive',
    bytes: gzipSync(tar({ name: 'big', size: '77777777777', data: 'x' })),
    error: /"big": claims 8589934591 bytes, the archive ends first/,
  },
  {
    name: 'base-256 size',
    bytes: gzipSync(tar({ name: 'big', size: Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]) })),
    error: /base-256 numbers are refused/,
  },
  {
    name: 'total size over the limit',
    bytes: gzipSync(tar({ name: 'a', data: 'x'.repeat(600) }, { name: 'b', data: 'y'.repeat(600) })),
    limits: { maxEntries: 100, maxBytes: 1000 },
    error: /more than 1000 bytes of files \(at "b"\)/,
  },
  {
    name: 'too many entries',
    bytes: gzipSync(tar(...Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, data: 'x' })))),
    limits: { maxEntries: 5, maxBytes: 1_000_000 },
    error: /more than 5 entries/,
  },
  {
    name: 'gzip bomb',
    bytes: gzipSync(Buffer.alloc(8 * 1024 * 1024)),
    limits: { maxEntries: 10, maxBytes: 64 * 1024 },
    error: /unpacks to more than 65536 bytes/,
  },
  { name: 'not gzip', bytes: Buffer.from('this is not a bundle at all'), error: /not a valid gzip stream/ },
  { name: 'gzip cut short', bytes: gzipSync(tar({ name: 'a', data: 'a'.repeat(5000) })).subarray(0, 40), error: /not a valid gzip stream/ },
  { name: 'empty input', bytes: Buffer.alloc(0), error: /not a valid gzip stream/ },
  { name: 'bad checksum', bytes: gzipSync(tar({ name: 'a', data: 'a', badChecksum: true })), error: /bad checksum/ },
  { name: 'no end marker', bytes: gzipSync(entry({ name: 'a', data: 'a' })), error: /truncated \(no end-of-archive marker\)/ },
  { name: 'duplicate file', bytes: gzipSync(tar({ name: 'a', data: '1' }, { name: 'a', data: '2' })), error: /"a" appears twice/ },
  { name: 'file under a file', bytes: gzipSync(tar({ name: 'a', data: '1' }, { name: 'a/b', data: '2' })), error: /"a\/b" lies under the file "a"/ },
  {
    name: 'file where a folder was implied',
    bytes: gzipSync(tar({ name: 'a/b', data: '1' }, { name: 'a', data: '2' })),
    error: /"a\/b" lies under the file "a"/,
  },
  {
    name: 'file where an earlier folder entry implied a folder',
    bytes: gzipSync(tar({ name: 'a/b/', type: '5' }, { name: 'a', data: '2' })),
    error: /"a\/b" lies under the file "a"/,
  },
  { name: 'file where a folder entry was', bytes: gzipSync(tar({ name: 'a/', type: '5' }, { name: 'a', data: '2' })), error: /"a" appears twice/ },
  { name: 'folder with data', bytes: gzipSync(tar({ name: 'd/', type: '5', data: 'x' })), error: /a folder with data/ },
  { name: 'dot segment', bytes: gzipSync(tar({ name: 'a/./b', data: 'x' })), error: /empty or "\." path segment/ },
  { name: 'empty name', bytes: gzipSync(tar({ name: '', data: 'x' })), error: /empty path/ },
];

describe('extractBundle refuses hostile archives, writing nothing', () => {
  for (const c of hostile) {
    it(c.name, () => {
      const dir = freshDir();
      assert.throws(
        () => extractBundle(c.bytes, dir, c.limits),
        (error: unknown) => {
          assert.ok(error instanceof TarError, `expected a TarError, got ${String(error)}`);
          assert.equal(error.code, 'BuildFailed');
          assert.match(error.message, c.error);
          return true;
        },
      );
      let left: string[] = [];
      try {
        left = readdirSync(dir);
      } catch {}
      assert.deepEqual(left, [], 'nothing may be written');
    });
  }

  it('refuses a target folder that is not empty', () => {
    const dir = freshDir();
    extractBundle(gzipSync(tar({ name: 'a', data: 'a' })), dir);
    assert.throws(() => extractBundle(gzipSync(tar({ name: 'b', data: 'b' })), dir), /is not empty/);
  });
});

describe('extractBundle unpacks folders and regular files', () => {
  it('writes each file with its content and executable bit, folders included', () => {
    const dir = freshDir();
    const bytes = gzipSync(
      tar(
        { name: '1-app/', type: '5', mode: 0o755 },
        { name: '1-app/10-a.yml', data: 'kind: A\n' },
        { name: '1-app/20-run.sh', data: '#!/bin/sh\n', mode: 0o755 },
        { prefix: 'deep/'.repeat(20).slice(0, -1), name: 'file.yml', data: 'deep\n' },
        { name: 'P', type: 'x', data: pax({ path: `${'long-'.repeat(40)}name.yml` }) },
        { name: 'truncated-by-pax', data: 'long\n' },
      ),
    );
    const result = extractBundle(bytes, dir);
    assert.deepEqual(result, { files: 4, bytes: 8 + 10 + 5 + 5 });
    assert.equal(readFileSync(join(dir, '1-app/10-a.yml'), 'utf8'), 'kind: A\n');
    assert.equal(statSync(join(dir, '1-app/20-run.sh')).mode & 0o111, 0o111);
    assert.equal(statSync(join(dir, '1-app/10-a.yml')).mode & 0o111, 0);
    assert.equal(readFileSync(join(dir, `${'deep/'.repeat(20)}file.yml`), 'utf8'), 'deep\n');
    assert.equal(readFileSync(join(dir, `${'long-'.repeat(40)}name.yml`), 'utf8'), 'long\n');
  });

  it('a file beside folders whose names begin with its own is not under it', () => {
    const dir = freshDir();
    extractBundle(gzipSync(tar({ name: 'a/b', data: '1' }, { name: 'a-b/c', data: '2' }, { name: 'a.d', data: '3' }, { name: 'a-b/c.d/e', data: '4' })), dir);
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'a-b', 'a.d']);
  });

  it('a git global header (the commit id) is not content', () => {
    const dir = freshDir();
    extractBundle(gzipSync(tar({ name: 'pax_global_header', type: 'g', data: pax({ comment: 'abc123' }) }, { name: 'a.yml', data: 'a' })), dir);
    assert.deepEqual(readdirSync(dir), ['a.yml']);
  });

  it('the canonical writer round-trips through the reader, long names included', () => {
    const entries = [
      { path: 'd', type: 'directory' as const, executable: false, data: Buffer.alloc(0) },
      { path: 'd/x.yml', type: 'file' as const, executable: false, data: Buffer.from('x') },
      { path: `d/${'n'.repeat(150)}/${'m'.repeat(120)}.yml`, type: 'file' as const, executable: true, data: Buffer.alloc(1500, 1) },
    ];
    assert.deepEqual(readTar(writeTar(entries), { maxEntries: 10, maxBytes: 10_000 }), entries);
  });
});
