/**
 * Keeping an up-to-date view of the Pipelines: LIST, then WATCH from the list's
 * resourceVersion. Watches in Node can stop delivering events silently, so three guards:
 * a `410 Gone` (or any error) relists; a periodic relist resyncs everything; a watchdog
 * aborts a watch that has been silent longer than its own server-side timeout.
 */
import { apiVersion, kind, type Pipeline } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { Logger } from '../log.js';

export type PipelineEvent = { type: 'upsert'; pipeline: Pipeline } | { type: 'delete'; name: string };

export interface WatchOptions {
  /** Relist everything this often, even when the watch looks healthy. */
  resyncMs: number;
  /** Server-side timeout of one watch request. */
  watchTimeoutSeconds: number;
  /** Pause after an error before relisting. */
  retryMs: number;
}

export function defaultWatchOptions(): WatchOptions {
  return { resyncMs: 5 * 60_000, watchTimeoutSeconds: 60, retryMs: 1000 };
}

export class PipelineWatcher {
  readonly pipelines = new Map<string, Pipeline>();
  private abort: AbortController | undefined;
  private stopped = false;
  private synced = false;
  private lastList = 0;
  /** Ends the pause between retries early (stop). */
  private wake: (() => void) | undefined;
  private done: (() => void) | undefined;
  private finished: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly log: Logger,
    private readonly onEvent: (event: PipelineEvent) => void,
    private readonly options: WatchOptions = defaultWatchOptions(),
  ) {}

  /** True once the first LIST has been seen. */
  get hasSynced(): boolean {
    return this.synced;
  }

  private async list(): Promise<string> {
    const { items, resourceVersion } = await this.client.listVersioned(apiVersion, kind, { namespace: this.namespace });
    const seen = new Set<string>();
    for (const item of items) {
      const pipeline = item as unknown as Pipeline;
      seen.add(pipeline.metadata.name);
      this.pipelines.set(pipeline.metadata.name, pipeline);
      this.onEvent({ type: 'upsert', pipeline });
    }
    for (const name of [...this.pipelines.keys()]) {
      if (!seen.has(name)) {
        this.pipelines.delete(name);
        this.onEvent({ type: 'delete', name });
      }
    }
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
        this.log.warn('pipeline watch silent for too long; restarting it');
        abort.abort();
      }
      if (Date.now() - this.lastList > this.options.resyncMs) abort.abort();
    }, 5000);
    try {
      await this.client.watch(
        apiVersion,
        kind,
        { namespace: this.namespace, resourceVersion, timeoutSeconds: this.options.watchTimeoutSeconds },
        (event) => {
          lastEvent = Date.now();
          if (event.type === 'ERROR') {
            // 410 Gone: our resourceVersion is too old; relist.
            rv = undefined;
            abort.abort();
            return;
          }
          rv = (event.object.metadata?.resourceVersion as string | undefined) ?? rv;
          if (event.type === 'BOOKMARK') return;
          const pipeline = event.object as unknown as Pipeline;
          if (event.type === 'DELETED') {
            this.pipelines.delete(pipeline.metadata.name);
            this.onEvent({ type: 'delete', name: pipeline.metadata.name });
          } else {
            this.pipelines.set(pipeline.metadata.name, pipeline);
            this.onEvent({ type: 'upsert', pipeline });
          }
        },
        abort.signal,
      );
    } finally {
      clearInterval(watchdog);
    }
    return abort.signal.aborted ? undefined : rv;
  }

  start(): void {
    const loop = async () => {
      let rv: string | undefined;
      while (!this.stopped) {
        try {
          if (!rv) rv = await this.list();
          // stop() may have come while the LIST was in flight: open no new watch then.
          if (this.stopped) break;
          rv = await this.watch(rv);
        } catch (error) {
          if (this.stopped) break;
          const gone = error instanceof KubeApiError && error.status === 410;
          if (!gone) this.log.warn({ err: (error as Error).message }, 'pipeline list/watch failed; retrying');
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
      this.done?.();
    };
    this.finished = new Promise<void>((resolve) => (this.done = resolve));
    void loop();
  }

  /** Closes the watch; resolves when the list/watch loop has ended (a LIST in flight finishes first). */
  stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    return this.finished ?? Promise.resolve();
  }
}
