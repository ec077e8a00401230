/**
 * Bundles: a commit's wave folder as one immutable, content-addressed file (see
 * docs/adr/0010-hub.md). The hub builds it from `git archive --format=tar <commit>:<path>`,
 * rewrites the archive canonically (tar.ts: the same tree always gives the same bytes),
 * gzips it at a fixed level and names it by its sha256 (`sha256:<hex>`). It is stored as an
 * immutable ConfigMap `doris-bundle-<first 40 hex>` owned by its Fleet, so the API server is
 * the only store every hub replica shares, and the Fleet's deletion collects its bundles.
 *
 * A bundle holds only folders and regular files. The hub refuses to build anything else (a
 * symlink in the wave folder fails the revision at the hub, not on every device), and the
 * agent's `extractBundle` refuses it again: it trusts nothing it downloads, bounds the bytes
 * and entries it unpacks, and writes nothing until the whole archive has been checked.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { formatBytes } from '../bytes.js';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fleetLabel, hubApiVersion } from '../api/hub.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../render/types.js';
import { readTar, TarError, type TarLimits, writeTar } from './tar.js';

export { TarError } from './tar.js';

/** Largest bundle, compressed: a ConfigMap holds at most 1 MiB, with room for its metadata. */
export const maxBundleBytes = 900 * 1024;

/** What a bundle may unpack to; the render limits (32 MiB of YAML) are the same order. */
export function defaultBundleLimits(): TarLimits {
  return { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 };
}

/** Largest tar within `limits`: the files, plus at most three header blocks per entry and the end marker. */
export function maxTarBytes(limits: TarLimits = defaultBundleLimits()): number {
  return limits.maxBytes + (limits.maxEntries * 3 + 2) * 512;
}

/** gzip level 9: fixed, so the bytes (and the digest) depend on the tree alone. */
const gzipLevel = 9;

export const digestPattern = /^sha256:[0-9a-f]{64}$/;

export function bundleDigest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function bundleConfigMapName(digest: string): string {
  if (!digestPattern.test(digest)) throw new DorisError('ReconcileFailed', `not a bundle digest: ${JSON.stringify(digest.slice(0, 80))}`);
  return `doris-bundle-${digest.slice('sha256:'.length, 'sha256:'.length + 40)}`;
}

export interface Bundle {
  /** The gzip'd canonical tar. */
  bytes: Buffer;
  digest: string;
  size: number;
  /** Files in it (folders not counted). */
  files: number;
}

/**
 * The bundle of a wave folder from `git archive`'s tar of it. Throws `TarError` (BuildFailed)
 * for anything a bundle may not hold, and a BuildFailed error naming the size when the
 * compressed bundle is over `maxBytes`.
 */
export function buildBundle(rawTar: Buffer, folder: string, options: { maxBytes?: number; limits?: TarLimits } = {}): Bundle {
  const entries = readTar(rawTar, options.limits ?? defaultBundleLimits());
  const bytes = gzipSync(writeTar(entries), { level: gzipLevel });
  const limit = options.maxBytes ?? maxBundleBytes;
  if (bytes.length > limit) {
    throw new DorisError(
      'BuildFailed',
      `the wave folder ${folder} is ${formatBytes(bytes.length)} compressed (${bytes.length} bytes); a bundle may be at most ${formatBytes(limit)} ` +
        '(it is stored in a ConfigMap); large files do not belong in a wave folder',
    );
  }
  return { bytes, digest: bundleDigest(bytes), size: bytes.length, files: entries.filter((e) => e.type === 'file').length };
}

/**
 * Unpacks a bundle into `dir`, which must not exist or be empty. The whole archive is read
 * and checked first (gzip, every header, paths, types, limits), so a hostile bundle leaves
 * nothing behind; only folders and regular files are created, with `wx` so nothing is
 * followed or overwritten.
 */
export function extractBundle(bytes: Buffer, dir: string, limits: TarLimits = defaultBundleLimits()): { files: number; bytes: number } {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: maxTarBytes(limits) });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new TarError(`unpacks to more than ${limits.maxBytes} bytes; refused`);
    throw new TarError(`not a valid gzip stream (${(error as Error).message})`);
  }
  const entries = readTar(tar, limits);
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  if (readdirSync(root).length > 0) throw new TarError(`target folder ${root} is not empty`);
  let total = 0;
  for (const entry of entries) {
    const target = resolve(root, ...entry.path.split('/'));
    // readTar refuses "..", absolute paths and backslashes; this is the belt to those braces.
    const rel = relative(root, target);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || resolve(root, rel) !== target)
      throw new TarError(`entry ${entry.path} escapes the target folder`);
    if (entry.type === 'directory') {
      mkdirSync(target, { recursive: true, mode: 0o755 });
    } else {
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      writeFileSync(target, entry.data, { flag: 'wx', mode: entry.executable ? 0o755 : 0o644 });
      total += entry.data.length;
    }
  }
  return { files: entries.filter((e) => e.type === 'file').length, bytes: total };
}

export class BundleIntegrityError extends DorisError {
  constructor(message: string) {
    super('ReconcileFailed', message);
    this.name = 'BundleIntegrityError';
  }
}

interface BundleConfigMap {
  metadata: { name: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: OwnerReference[] };
  binaryData?: Record<string, string>;
}

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface BundleStoreOptions {
  /** Bytes of bundles kept in memory (least recently used out). */
  cacheBytes: number;
}

export const digestAnnotation = 'hub.doris.dev/digest';

/**
 * Bundles in the API server, with an in-memory cache in front. `get` is what serves devices:
 * concurrent requests for one digest share one read, and what is read is verified against
 * its digest before it is cached or served.
 */
export class BundleStore {
  private readonly cache = new Map<string, Buffer>();
  private cachedBytes = 0;
  private readonly reading = new Map<string, Promise<Buffer | undefined>>();
  private readonly options: BundleStoreOptions;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    options: Partial<BundleStoreOptions> = {},
  ) {
    this.options = { cacheBytes: 64 * 1024 * 1024, ...options };
  }

  private key(digest: string) {
    return { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: bundleConfigMapName(digest) };
  }

  private remember(digest: string, bytes: Buffer): void {
    if (bytes.length > this.options.cacheBytes) return;
    const old = this.cache.get(digest);
    if (old) {
      this.cache.delete(digest);
      this.cachedBytes -= old.length;
    }
    this.cache.set(digest, bytes);
    this.cachedBytes += bytes.length;
    for (const [key, value] of this.cache) {
      if (this.cachedBytes <= this.options.cacheBytes) break;
      this.cache.delete(key);
      this.cachedBytes -= value.length;
    }
  }

  /** The bundle's bytes, verified; undefined when no such bundle is stored. */
  get(digest: string): Promise<Buffer | undefined> {
    if (!digestPattern.test(digest)) return Promise.resolve(undefined);
    const cached = this.cache.get(digest);
    if (cached) {
      this.cache.delete(digest);
      this.cache.set(digest, cached);
      return Promise.resolve(cached);
    }
    let pending = this.reading.get(digest);
    if (!pending) {
      pending = this.read(digest).finally(() => this.reading.delete(digest));
      this.reading.set(digest, pending);
    }
    return pending;
  }

  private async read(digest: string): Promise<Buffer | undefined> {
    const object = (await this.client.get(this.key(digest))) as unknown as BundleConfigMap | undefined;
    const encoded = object?.binaryData?.bundle;
    if (encoded === undefined) return undefined;
    const bytes = Buffer.from(encoded, 'base64');
    if (bundleDigest(bytes) !== digest) throw new BundleIntegrityError(`ConfigMap ${this.namespace}/${object!.metadata.name} does not hold bundle ${digest}`);
    this.remember(digest, bytes);
    return bytes;
  }

  /**
   * Stores a bundle, owned by `fleet`, unless it is stored already (two Fleets with the same
   * wave folder share one bundle: each becomes an owner). Returns true when it was created.
   */
  async put(fleet: { name: string; uid: string }, bundle: Pick<Bundle, 'bytes' | 'digest'>): Promise<boolean> {
    if (bundleDigest(bundle.bytes) !== bundle.digest) throw new BundleIntegrityError(`bundle bytes do not match ${bundle.digest}`);
    const owner: OwnerReference = { apiVersion: hubApiVersion, kind: 'Fleet', name: fleet.name, uid: fleet.uid };
    const key = this.key(bundle.digest);
    let existing = (await this.client.get(key)) as unknown as BundleConfigMap | undefined;
    if (!existing) {
      const object = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: key.name,
          namespace: this.namespace,
          labels: { [fleetLabel]: fleet.name, 'app.kubernetes.io/managed-by': 'doris-hub' },
          annotations: { [digestAnnotation]: bundle.digest },
          ownerReferences: [owner],
        },
        immutable: true,
        binaryData: { bundle: bundle.bytes.toString('base64') },
      };
      try {
        await this.client.create(object as unknown as KubeObject);
        this.remember(bundle.digest, bundle.bytes);
        return true;
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 409)) throw error;
        existing = (await this.client.get(key)) as unknown as BundleConfigMap | undefined;
        if (!existing) throw error;
      }
    }
    if (existing.metadata.annotations?.[digestAnnotation] !== bundle.digest) {
      throw new BundleIntegrityError(`ConfigMap ${this.namespace}/${key.name} exists but does not hold bundle ${bundle.digest}`);
    }
    const owners = existing.metadata.ownerReferences ?? [];
    if (!owners.some((o) => o.uid === fleet.uid)) {
      await this.client.mergePatch(key, { metadata: { ownerReferences: [...owners, owner] } });
    }
    this.remember(bundle.digest, bundle.bytes);
    return false;
  }

  /**
   * Deletes the bundles `fleet` created that no revision in `keep` uses any more, so that a
   * busy branch does not pile megabytes into etcd until the Fleet is deleted. A bundle another
   * Fleet also owns is left to it; the delete is conditional on the ConfigMap being unchanged
   * since it was listed, so a Fleet that has just become an owner (its `put`) keeps it.
   * Returns the digests deleted.
   */
  async collect(fleet: { name: string; uid: string }, keep: ReadonlySet<string>): Promise<string[]> {
    const listed = (await this.client.list('v1', 'ConfigMap', {
      namespace: this.namespace,
      labelSelector: `${fleetLabel}=${fleet.name}`,
    })) as unknown as Array<BundleConfigMap & { metadata: { resourceVersion?: string } }>;
    const deleted: string[] = [];
    for (const object of listed) {
      const digest = object.metadata.annotations?.[digestAnnotation];
      if (!digest || !digestPattern.test(digest) || object.metadata.name !== bundleConfigMapName(digest) || keep.has(digest)) continue;
      const owners = object.metadata.ownerReferences ?? [];
      if (owners.length === 0 || owners.some((o) => o.uid !== fleet.uid)) continue;
      try {
        await this.client.delete(this.key(digest), 'Background', { uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion });
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 409) continue; // changed since listed: an owner was added
        throw error;
      }
      const cached = this.cache.get(digest);
      if (cached) {
        this.cache.delete(digest);
        this.cachedBytes -= cached.length;
      }
      deleted.push(digest);
    }
    return deleted;
  }
}
