/**
 * Parsed commits, kept between syncs of a long-running controller: a resync of an unchanged
 * commit (most of them: every interval, to find drift) does not parse its YAML again. A
 * commit is immutable, so its render is a function of the commit, the folder and the render
 * options alone; what depends on the cluster (image digests, config hashes, namespaces) is
 * computed afresh on every sync from these objects.
 *
 * Cached renders are deep-frozen: a later step that mutated a cached object instead of
 * copying it would otherwise leak one sync's changes into the next; frozen, it throws at once.
 * The cache holds at most `maxObjects` objects in all (the oldest commits go first), so that
 * a few very large repositories cannot grow the controller's heap.
 *
 * It also keeps each Pipeline's last desired set (the objects after images, config hashes,
 * ownership and namespaces), with the inputs it was built from: when the commit, the render
 * options, the image digests, the spec and the config objects read from the cluster are all
 * the same, a resync neither checks out nor renders nor stamps again — it goes straight to
 * comparing with the live objects, which is what finds drift. The first sync after a start
 * builds everything. Bounded by `maxDesiredObjects` over all Pipelines.
 *
 * And, per Pipeline, the parse of each file of its last render (`FileCache`): a new commit
 * usually changes a few files of many, and the render of a push then parses only those. A
 * file's parse is a function of its bytes, its path (problems name it) and the YAML limits.
 */
import { createHash } from 'node:crypto';
import type { InventoryEntry } from '../api/pipeline.js';
import type { DesiredObject, Problem, RenderedRepo, Wave } from './types.js';
import type { ParseBudget, ParsedFile } from './yaml.js';

/** What one render's files may keep in a `FileCache`, in estimated JSON bytes. */
const defaultFileCacheBytes = 8 * 1024 * 1024;

export interface RenderCacheOptions {
  /** Most objects held, over every cached commit. */
  maxObjects: number;
  /** Most objects held in the Pipelines' last desired sets, over all of them. */
  maxDesiredObjects: number;
}

export function defaultRenderCacheOptions(): RenderCacheOptions {
  return { maxObjects: 5_000, maxDesiredObjects: 50_000 };
}

/** A cluster read the desired set depends on (a ConfigMap or Secret outside the commit), and what it returned. */
export interface ConfigRead {
  kind: 'ConfigMap' | 'Secret';
  namespace: string;
  name: string;
  /** uid and resourceVersion of what was read, or `absent`. */
  seen: string;
}

/**
 * The last desired set of one Pipeline and everything it was built from: the render (by its
 * key: commit, folder, render options), the other inputs (image digests, spec), and the
 * config objects read from the cluster for config hashes.
 */
export interface DesiredMemo {
  renderKey: string;
  rendered: RenderedRepo;
  inputsKey: string;
  configs: ConfigRead[];
  waves: Wave[];
  objects: DesiredObject[];
  inventory: InventoryEntry[];
  problems: Problem[];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * The files one Pipeline's renders parsed, by path, content and limits. Entries live for one
 * render after the one that last used them (a render keeps what it used, and the rest goes),
 * so the cache never holds more than about two commits' files; and each render keeps at most
 * `maxDocuments` documents and `maxBytes` of them (their estimated JSON size). Only clean
 * parses are kept: no problem, within the commit-wide budget.
 *
 * Why a byte bound: the render limits let a commit hold 32 MiB of documents, and a commit that
 * large, kept while the next one (as large) is parsed, took a controller past its 128 MiB
 * heap (test/e2e/hostile_memory_test.ts). Real manifests are small files: the 10,000 objects
 * of `npm run bench -- scale` are 2.8 MiB.
 */
export class FileCache {
  private previous = new Map<string, ParsedFile>();
  private current = new Map<string, ParsedFile>();
  private documents = 0;
  private bytes = 0;

  constructor(
    private readonly maxDocuments: number,
    private readonly maxBytes = defaultFileCacheBytes,
  ) {}

  static key(file: string, bytes: Uint8Array, limits: string): string {
    return `${file}\u0000${limits}\u0000${createHash('sha256').update(bytes).digest('hex')}`;
  }

  /** The file's parse, when held and within what the rest of the commit may still hold. */
  lookup(key: string, budget: ParseBudget): ParsedFile | undefined {
    const hit = this.current.get(key) ?? this.previous.get(key);
    if (!hit || hit.documentCount > budget.documents || hit.nodeCount > budget.nodes || hit.expandedBytes > budget.expandedBytes) return undefined;
    if (!this.current.has(key)) this.keep(key, hit);
    return hit;
  }

  store(key: string, parsed: ParsedFile): void {
    if (parsed.overBudget || parsed.problems.length > 0 || this.current.has(key)) return;
    this.keep(key, deepFreeze(parsed));
  }

  private keep(key: string, parsed: ParsedFile): void {
    if (this.documents + parsed.documentCount > this.maxDocuments || this.bytes + parsed.expandedBytes > this.maxBytes) return;
    this.current.set(key, parsed);
    this.documents += parsed.documentCount;
    this.bytes += parsed.expandedBytes;
  }

  /** A render ended (or failed): what it did not use goes. */
  endRender(): void {
    this.previous = this.current;
    this.current = new Map();
    this.documents = 0;
    this.bytes = 0;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

function objectCount(rendered: RenderedRepo): number {
  return rendered.waves.reduce((sum, wave) => sum + wave.steps.reduce((n, step) => n + step.objects.length, 0), 0);
}

export class RenderCache {
  private readonly entries = new Map<string, { rendered: RenderedRepo; objects: number }>();
  private held = 0;
  /** Per Pipeline (`namespace/name`): its last desired set, most recently used last. */
  private readonly desired = new Map<string, DesiredMemo>();
  private desiredHeld = 0;
  /** Per Pipeline: the parses of its last render's files. */
  private readonly files = new Map<string, FileCache>();

  private readonly options: RenderCacheOptions;

  constructor(options: Partial<RenderCacheOptions> = {}) {
    this.options = { ...defaultRenderCacheOptions(), ...options };
  }

  /** The render of `key` (commit, folder, options), rendering it with `render` when not held. */
  async get(key: string, render: () => Promise<RenderedRepo>): Promise<RenderedRepo> {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last: eviction takes the first.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.rendered;
    }
    const rendered = await render();
    const objects = objectCount(rendered);
    if (objects > this.options.maxObjects) return rendered;
    for (const [oldKey, old] of this.entries) {
      if (this.held + objects <= this.options.maxObjects) break;
      this.entries.delete(oldKey);
      this.held -= old.objects;
    }
    this.entries.set(key, { rendered: deepFreeze(rendered), objects });
    this.held += objects;
    return rendered;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The Pipeline's last desired set, whatever it was built from (the caller compares the inputs). */
  lastDesired(pipeline: string): DesiredMemo | undefined {
    const memo = this.desired.get(pipeline);
    if (memo) {
      this.desired.delete(pipeline);
      this.desired.set(pipeline, memo);
    }
    return memo;
  }

  /**
   * Keeps `memo` as the Pipeline's last desired set (deep-frozen, like a cached render),
   * replacing the one before; the least recently used Pipelines' sets go when over budget.
   */
  rememberDesired(pipeline: string, memo: DesiredMemo): void {
    this.dropMemo(pipeline);
    const objects = memo.objects.length;
    if (objects > this.options.maxDesiredObjects) return;
    for (const oldKey of [...this.desired.keys()]) {
      if (this.desiredHeld + objects <= this.options.maxDesiredObjects) break;
      this.forgetDesired(oldKey);
    }
    this.desired.set(pipeline, deepFreeze(memo));
    this.desiredHeld += objects;
  }

  /** The Pipeline's file cache (created on first use). */
  filesOf(pipeline: string): FileCache {
    let files = this.files.get(pipeline);
    if (!files) {
      files = new FileCache(this.options.maxObjects);
      this.files.set(pipeline, files);
    }
    return files;
  }

  /** The Pipeline is gone (or its set must be built afresh). */
  forgetDesired(pipeline: string): void {
    this.files.delete(pipeline);
    this.dropMemo(pipeline);
  }

  private dropMemo(pipeline: string): void {
    const memo = this.desired.get(pipeline);
    if (!memo) return;
    this.desired.delete(pipeline);
    this.desiredHeld -= memo.objects.length;
  }

  get desiredSets(): number {
    return this.desired.size;
  }
}
