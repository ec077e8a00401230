/**
 * A minimal, strict tar reader and writer for bundles (ustar, with pax `x` records for long
 * paths). Hand-written rather than the npm `tar` package: a bundle holds only folders and
 * regular files, so the whole format we accept fits in this file, and everything else —
 * symlinks, hardlinks, devices, FIFOs, GNU sparse files, absolute paths, `..`, base-256
 * sizes, bad checksums, truncated archives — is refused with a message naming the entry,
 * before a single byte reaches the disk (see `extractBundle` in bundles.ts).
 *
 * The writer emits a canonical archive (mtime 0, uid/gid 0, no user names, mode 0644 or
 * 0755), so the same tree always gives the same bytes, whatever git version produced the
 * input (`git archive` of a tree stamps the current time on every entry).
 */
import { DorisError } from '../errors.js';

const BLOCK = 512;

export class TarError extends DorisError {
  constructor(message: string) {
    super('BuildFailed', `bundle: ${message}`);
    this.name = 'TarError';
  }
}

export interface TarEntry {
  /** Relative path, `/`-separated, no trailing slash, never empty, never with `.` or `..` segments. */
  path: string;
  type: 'file' | 'directory';
  /** Only the executable bit is kept. */
  executable: boolean;
  data: Buffer;
}

export interface TarLimits {
  /** Most entries (files and folders). */
  maxEntries: number;
  /** Largest sum of file sizes, bytes. */
  maxBytes: number;
}

function printablePath(path: string): string {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

function octal(block: Buffer, start: number, length: number, what: string): number {
  if (block[start]! & 0x80) throw new TarError(`${what}: base-256 numbers are refused`);
  const text = cString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`${what}: not an octal number`);
  const value = Number.parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw new TarError(`${what}: number too large`);
  return value;
}

function checksumOk(block: Buffer): boolean {
  const stored = octal(block, 148, 8, 'header checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === stored;
}

/** A path as the archive names it, checked: relative, no `.`/`..`/empty segments, no NUL or backslash. */
export function safeEntryPath(raw: string): string {
  const path = raw.replace(/\/+$/, '');
  if (path === '' || path === '.') throw new TarError(`entry ${printablePath(raw)}: empty path`);
  if (path.startsWith('/')) throw new TarError(`entry ${printablePath(raw)}: absolute path refused`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\\]/.test(path)) throw new TarError(`entry ${printablePath(raw)}: control character or backslash in path refused`);
  for (const segment of path.split('/')) {
    if (segment === '..') throw new TarError(`entry ${printablePath(raw)}: ".." in path refused (it would escape the bundle folder)`);
    if (segment === '' || segment === '.') throw new TarError(`entry ${printablePath(raw)}: empty or "." path segment refused`);
  }
  return path;
}

/** pax extended header records: `"<len> <key>=<value>\n"`. */
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) throw new TarError('malformed pax header');
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= space - offset || offset + length > data.length) throw new TarError('malformed pax header');
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0 || data[offset + length - 1] !== 0x0a) throw new TarError('malformed pax header');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    offset += length;
  }
  return records;
}

const REFUSED_TYPES: Record<string, string> = {
  '1': 'a hardlink',
  '2': 'a symlink',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  L: 'a GNU long name',
  K: 'a GNU long link name',
  S: 'a GNU sparse file',
};

/**
 * Reads a whole archive into entries, refusing anything but folders and regular files. Limits
 * are checked against the headers before any data is copied.
 */
export function readTar(archive: Buffer, limits: TarLimits): TarEntry[] {
  const entries: TarEntry[] = [];
  const seen = new Map<string, TarEntry['type']>();
  let totalBytes = 0;
  let offset = 0;
  let pax: Map<string, string> | undefined;
  for (;;) {
    if (offset + BLOCK > archive.length) throw new TarError('archive truncated (no end-of-archive marker)');
    const header = archive.subarray(offset, offset + BLOCK);
    offset += BLOCK;
    if (header.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(header)) throw new TarError(`header at byte ${offset - BLOCK}: bad checksum (not a tar archive, or corrupted)`);
    const type = String.fromCharCode(header[156]!);
    let name = cString(header, 0, 100);
    const prefix = cString(header, 345, 155);
    if (cString(header, 257, 6) === 'ustar' && prefix) name = `${prefix}/${name}`;
    let size = octal(header, 124, 12, `entry ${printablePath(name)}: size`);
    if (pax?.has('size')) {
      const paxSize = Number(pax.get('size'));
      if (!Number.isSafeInteger(paxSize) || paxSize < 0) throw new TarError(`entry ${printablePath(name)}: bad pax size`);
      size = paxSize;
    }
    if (type === 'x' || type === 'g') {
      if (size > 64 * 1024) throw new TarError(`pax header of ${size} bytes refused`);
    }
    const dataEnd = offset + size;
    if (dataEnd > archive.length) throw new TarError(`entry ${printablePath(name)}: claims ${size} bytes, the archive ends first (truncated)`);
    const data = archive.subarray(offset, dataEnd);
    offset += Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'g') continue; // git's global header (the commit id): not content
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (pax?.has('path')) name = pax.get('path')!;
    pax = undefined;
    const refused = REFUSED_TYPES[type];
    if (refused) throw new TarError(`entry ${printablePath(name)} is ${refused}; a bundle holds only folders and regular files`);
    const entryType = type === '5' ? 'directory' : type === '0' || type === '\0' ? 'file' : undefined;
    if (!entryType) throw new TarError(`entry ${printablePath(name)}: unknown entry type ${JSON.stringify(type)} refused`);
    const path = safeEntryPath(name);
    const before = seen.get(path);
    if (before !== undefined && !(before === 'directory' && entryType === 'directory')) throw new TarError(`entry ${printablePath(path)} appears twice`);
    if (entryType === 'directory' && size !== 0) throw new TarError(`entry ${printablePath(path)}: a folder with data`);
    if (entries.length + 1 > limits.maxEntries) throw new TarError(`more than ${limits.maxEntries} entries; refused`);
    totalBytes += size;
    if (totalBytes > limits.maxBytes) throw new TarError(`more than ${limits.maxBytes} bytes of files (at ${printablePath(path)}); refused`);
    seen.set(path, entryType);
    const mode = octal(header, 100, 8, `entry ${printablePath(path)}: mode`);
    entries.push({ path, type: entryType, executable: entryType === 'file' && (mode & 0o100) !== 0, data: Buffer.from(data) });
  }
  refuseEntriesUnderFiles(entries);
  return entries;
}

/**
 * A file may not have entries under it, whichever comes first: `a/b` before the file `a` would
 * otherwise pass and fail unpacking with a raw fs error. Checked on the sorted paths, without
 * keeping every parent of every entry (a deep path would cost memory quadratic in its length).
 */
function refuseEntriesUnderFiles(entries: readonly TarEntry[]): void {
  const paths = entries.map((e) => e.path).sort();
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const under = `${entry.path}/`;
    // The first path not below `under`: if any path lies under the file, this is one.
    let low = 0;
    let high = paths.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (paths[middle]! < under) low = middle + 1;
      else high = middle;
    }
    const child = paths[low];
    if (child?.startsWith(under)) throw new TarError(`entry ${printablePath(child)} lies under the file ${printablePath(entry.path)}`);
  }
}

function writeString(block: Buffer, start: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new TarError(`internal: field too long for ${printablePath(value)}`);
  bytes.copy(block, start);
}

function writeOctal(block: Buffer, start: number, length: number, value: number): void {
  writeString(block, start, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function header(name: string, prefix: string, type: string, mode: number, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block[156] = type.charCodeAt(0);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 345, 155, prefix);
  block.fill(32, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** Splits a path into ustar's prefix and name fields, if it fits them. */
function ustarName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  return undefined;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return Buffer.from(`${length}${body}`, 'utf8');
}

/** The canonical archive of `entries`, in the order given. */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const stored = entry.type === 'directory' ? `${entry.path}/` : entry.path;
    let fields = ustarName(stored);
    if (!fields) {
      const record = paxRecord('path', stored);
      parts.push(header('PaxHeader', '', 'x', 0o644, record.length), ...padded(record));
      fields = { name: 'PaxHeader/long-name', prefix: '' };
    }
    const mode = entry.type === 'directory' || entry.executable ? 0o755 : 0o644;
    const size = entry.type === 'file' ? entry.data.length : 0;
    parts.push(header(fields.name, fields.prefix, entry.type === 'directory' ? '5' : '0', mode, size));
    if (size > 0) parts.push(...padded(entry.data));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
