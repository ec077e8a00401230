/**
 * Server-sent events: one long-lived response per open page, to which the server writes a
 * short `update` naming what changed; the page then fetches the part it shows. Nothing
 * heavy travels on the stream and nothing is kept per client but its response, so an open
 * page costs a socket. Updates are coalesced (at most one per topic per `coalesceMs`), the
 * number of streams is bounded, a comment every `heartbeatMs` keeps proxies from closing an
 * idle stream, and `close()` ends every stream (a stopping server must not wait for them).
 * At the bound a new stream ends the oldest, which reconnects a few seconds later: refusing
 * the new one instead let one viewer holding every stream keep everybody else's pages still.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SseOptions {
  maxClients: number;
  heartbeatMs: number;
  coalesceMs: number;
}

export function defaultSseOptions(): SseOptions {
  return { maxClients: 64, heartbeatMs: 15_000, coalesceMs: 300 };
}

interface Client {
  res: ServerResponse;
  /** Topics this page shows (`*`: all). */
  topics: Set<string>;
}

export class SseHub {
  private readonly clients = new Set<Client>();
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: SseOptions = defaultSseOptions()) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream for `topics` (ending the oldest stream when full); false (and a 503) when closed. */
  open(req: IncomingMessage, res: ServerResponse, topics: string[], headers: Record<string, string> = {}): boolean {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10', ...headers });
      res.end('the server is stopping\n');
      return false;
    }
    if (this.clients.size >= this.options.maxClients) {
      const oldest = this.clients.values().next().value as Client;
      this.clients.delete(oldest);
      oldest.res.end();
    }
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // The browser reconnects after this long if the stream drops.
    res.write('retry: 3000\n\n');
    const client: Client = { res, topics: new Set(topics) };
    this.clients.add(client);
    const drop = () => {
      this.clients.delete(client);
      if (this.clients.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    };
    req.on('close', drop);
    res.on('error', drop);
    this.heartbeat ??= setInterval(() => this.broadcastRaw(': keep-alive\n\n'), this.options.heartbeatMs).unref();
    return true;
  }

  /** Something about `topic` changed: pages showing it (or everything) get an `update` soon. */
  notify(topic: string): void {
    if (this.closed || this.clients.size === 0) return;
    this.pending.add(topic);
    this.flushTimer ??= setTimeout(() => this.flush(), this.options.coalesceMs).unref();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const topics = [...this.pending];
    this.pending.clear();
    for (const client of this.clients) {
      const relevant = client.topics.has('*') ? topics : topics.filter((t) => client.topics.has(t));
      if (relevant.length > 0) client.res.write(`event: update\ndata: ${JSON.stringify({ topics: relevant })}\n\n`);
    }
  }

  private broadcastRaw(text: string): void {
    for (const client of this.clients) client.res.write(text);
  }

  /** Ends every stream; later `open`s are refused. */
  close(): void {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }
}
