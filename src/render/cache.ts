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
 */
import type { RenderedRepo } from './types.js';

export interface RenderCacheOptions {
  /** Most objects held, over every cached commit. */
  maxObjects: number;
}

export function defaultRenderCacheOptions(): RenderCacheOptions {
  return { maxObjects: 5_000 };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function objectCount(rendered: RenderedRepo): number {
  return rendered.waves.reduce((sum, wave) => sum + wave.steps.reduce((n, step) => n + step.objects.length, 0), 0);
}

export class RenderCache {
  private readonly entries = new Map<string, { rendered: RenderedRepo; objects: number }>();
  private held = 0;

  constructor(private readonly options: RenderCacheOptions = defaultRenderCacheOptions()) {}

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
}
