/**
 * An up-to-date, in-memory view of one kind in one namespace: LIST, then WATCH from the
 * list's resourceVersion, with the guards of the controller's Pipeline watch
 * (src/controller/watch.ts): any error or `410 Gone` relists, a periodic relist resyncs
 * everything, a watchdog aborts a watch silent for longer than its own server-side timeout.
 * `keep` turns each object into what is held (so that memory per object is bounded by what
 * the caller needs, not by what someone wrote into the object).
 *
 * What this replica writes goes into the view at once (`set`), ahead of its watch event; the
 * events of earlier versions may still be on their way then. The view never goes back: an event,
 * a listed object or a deletion older than what is held is dropped, by resourceVersion.
 */
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import { compareResourceVersions, type KubeObject } from '../kube/object.js';
import type { Logger } from '../log.js';

export interface InformerOptions {
  resyncMs: number;
  watchTimeoutSeconds: number;
  retryMs: number;
}

export function defaultInformerOptions(): InformerOptions {
  return { resyncMs: 5 * 60_000, watchTimeoutSeconds: 60, retryMs: 1000 };
}

export class Informer<T> {
  private readonly items = new Map<string, T>();
  /** The resourceVersion of each object held (what `keep` may not retain). */
  private readonly versions = new Map<string, string | undefined>();
  private abort: AbortController | undefined;
  private stopped = false;
  private synced = false;
  private lastList = 0;
  private wake: (() => void) | undefined;
  private finished: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly apiVersion: string,
    private readonly kind: string,
    private readonly namespace: string,
    private readonly log: Logger,
    private readonly keep: (object: KubeObject) => T,
    /** Called after each change of the view: the object held, or undefined once deleted. */
    private readonly onEvent: (name: string, item: T | undefined) => void,
    private readonly options: InformerOptions = defaultInformerOptions(),
  ) {}

  get hasSynced(): boolean {
    return this.synced;
  }

  get(name: string): T | undefined {
    return this.items.get(name);
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  get size(): number {
    return this.items.size;
  }

  /** Puts what this replica itself just wrote into the view, ahead of its watch event. */
  set(object: KubeObject): void {
    this.upsert(object);
  }

  /** Whether `version` is older than what is held for `name` (so must not replace or remove it). */
  private isStale(name: string, version: string | undefined): boolean {
    return (compareResourceVersions(version, this.versions.get(name)) ?? 0) < 0;
  }

  private upsert(object: KubeObject): void {
    const name = object.metadata.name;
    const version = object.metadata.resourceVersion as string | undefined;
    if (this.isStale(name, version)) return;
    const item = this.keep(object);
    this.items.set(name, item);
    this.versions.set(name, version);
    this.onEvent(name, item);
  }

  private remove(name: string, version?: string): void {
    if (this.isStale(name, version) || !this.items.delete(name)) return;
    this.versions.delete(name);
    this.onEvent(name, undefined);
  }

  private async list(): Promise<string> {
    const { items, resourceVersion } = await this.client.listVersioned(this.apiVersion, this.kind, { namespace: this.namespace });
    const seen = new Set<string>();
    for (const object of items) {
      seen.add(object.metadata.name);
      this.upsert(object);
    }
    // Not listed: deleted, unless this replica created it after the list was read.
    for (const name of [...this.items.keys()]) if (!seen.has(name)) this.remove(name, resourceVersion);
    this.synced = true;
    this.lastList = Date.now();
    return resourceVersion;
  }

  private async watch(resourceVersion: string): Promise<string | undefined> {
    this.abort = new AbortController();
    const abort = this.abort;
    let rv: string | undefined = resourceVersion;
    let lastEvent = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastEvent > (this.options.watchTimeoutSeconds + 15) * 1000) {
        this.log.warn({ kind: this.kind }, 'watch silent for too long; restarting it');
        abort.abort();
      }
      if (Date.now() - this.lastList > this.options.resyncMs) abort.abort();
    }, 5000);
    try {
      await this.client.watch(
        this.apiVersion,
        this.kind,
        { namespace: this.namespace, resourceVersion, timeoutSeconds: this.options.watchTimeoutSeconds },
        (event) => {
          lastEvent = Date.now();
          if (event.type === 'ERROR') {
            rv = undefined;
            abort.abort();
            return;
          }
          rv = (event.object.metadata?.resourceVersion as string | undefined) ?? rv;
          if (event.type === 'BOOKMARK') return;
          if (event.type === 'DELETED') this.remove(event.object.metadata.name, event.object.metadata.resourceVersion as string | undefined);
          else this.upsert(event.object);
        },
        abort.signal,
      );
    } finally {
      clearInterval(watchdog);
    }
    return abort.signal.aborted ? undefined : rv;
  }

  start(): void {
    let done: () => void = () => undefined;
    this.finished = new Promise<void>((resolve) => (done = resolve));
    const loop = async () => {
      let rv: string | undefined;
      while (!this.stopped) {
        try {
          if (!rv) rv = await this.list();
          if (this.stopped) break;
          rv = await this.watch(rv);
        } catch (error) {
          if (this.stopped) break;
          if (!(error instanceof KubeApiError && error.status === 410)) {
            this.log.warn({ kind: this.kind, err: (error as Error).message }, 'list/watch failed; retrying');
          }
          rv = undefined;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.options.retryMs);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wake = undefined;
        }
      }
      done();
    };
    void loop();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    return this.finished ?? Promise.resolve();
  }
}
