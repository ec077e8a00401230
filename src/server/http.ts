/**
 * The controller's HTTP server:
 *   GET  /healthz, /readyz      liveness and readiness
 *   GET  /metrics               Prometheus
 *   POST /hooks/github          push events, HMAC-signed (X-Hub-Signature-256)
 *   POST /hooks/registry        distribution notifications, bearer token
 *   GET  /, /pipelines/..., /api/pipelines/...   the dashboard and its JSON API, behind its
 *                               own authentication (dashboard.ts)
 * Webhooks only trigger syncs; what is applied always comes from git and the registry.
 * Webhooks are refused (503) until a secret or token is configured: signatures are required.
 * Once the controller is stopping, webhooks are refused (503, so the sender can retry against
 * the next leader) and every answer closes its connection; `closeServer` lets requests in
 * flight finish until a deadline, then cuts what is left.
 * Webhook bodies are read before they can be authenticated, so what anyone may make the
 * server hold is bounded: each body (bodyLimitBytes), all bodies being received at once
 * (bodyBufferLimitBytes: past it, 503 and the connection closed), and how long a client may
 * take to send a request (RequestTimeouts).
 */
import { createServer, type ServerOptions as HttpServerOptions, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { parsePushEvent, verifyGithubSignature } from './github.js';
import type { Metrics } from '../metrics.js';
import { parseRegistryEvents, verifyBearer, type PushedImage } from './registry-hook.js';
import type { Dashboard } from './dashboard.js';
import { BodyTooLarge, readBoundedBody } from './body.js';
import { FormTooLarge } from './ui/request.js';

export interface ServerDeps {
  log: Logger;
  metrics: Metrics;
  ready: () => boolean;
  /** Every other route: the dashboard and its API (absent: 404). */
  dashboard?: Dashboard;
  githubSecret?: () => string | undefined;
  registryToken?: () => string | undefined;
  /** Names of the Pipelines triggered by a push of `branch` to `repositories`. */
  onGithubPush: (repositories: string[], branch: string) => string[];
  onRegistryPush: (images: PushedImage[]) => string[];
  /** Largest webhook body accepted. */
  bodyLimitBytes: number;
  /** Bytes of request bodies held at once, over all requests (default: `largestBodiesAtOnce` bodies of `bodyLimitBytes`). */
  bodyBufferLimitBytes?: number;
  /** Default: `defaultRequestTimeouts`. */
  timeouts?: RequestTimeouts;
}

export interface ServerOptions {
  /** Largest webhook body accepted. */
  bodyLimitBytes: number;
}

export function defaultServerOptions(): ServerOptions {
  return { bodyLimitBytes: 1024 * 1024 };
}

/** How many bodies of the largest size may be received at once, by default. */
export const largestBodiesAtOnce = 8;

export interface RequestTimeouts {
  /** A request's headers must have arrived this long after it began. */
  headersMs: number;
  /** The whole request, body included, must have arrived this long after it began (0: no bound). */
  requestMs: number;
  /** How often connections are checked against both: a timeout may be overrun by up to this much. */
  checkEveryMs: number;
}

/**
 * GitHub gives up on a delivery after 10 s: a webhook still arriving after 15 s is an attack
 * or a dead client, and so is a browser's form.
 */
export const defaultRequestTimeouts: RequestTimeouts = { headersMs: 10_000, requestMs: 15_000, checkEveryMs: 1_000 };

/**
 * The options of node's `createServer` that bound how long a client may take to send a
 * request. node's defaults (60 s for the headers, 300 s for the request, checked every 30 s)
 * let a client that trickles or stalls hold its connection, and the body buffered so far, for
 * minutes. Only receiving is bounded: a long answer (an event stream, a long-poll) is not. The
 * hub's server uses it too, with its own figures.
 */
export function requestTimeoutOptions(timeouts: RequestTimeouts): Pick<HttpServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  return { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkEveryMs };
}

/**
 * The request itself failed: the client went away mid-request, or node cut it at a timeout.
 * Nothing failed here and nobody is left to answer. (Not any ECONNRESET: that of a call to the
 * API server is a failure of ours.)
 */
function clientGone(req: IncomingMessage, error: unknown): boolean {
  return error !== undefined && error !== null && error === req.errored;
}

/**
 * The bytes of request bodies a server holds at once, over all requests: a body is read before
 * it can be authenticated (a webhook's signature covers it), so without a bound many slow
 * senders make the server hold many bodies. A request counts its declared length, or for a
 * chunked body the largest accepted, from its arrival until its response closes.
 */
export class BodyBudget {
  private held = 0;

  constructor(
    /** Largest body accepted: a declared length past it is refused by the handler unread. */
    private readonly bodyLimitBytes: number,
    private readonly limitBytes: number,
    private readonly log: Logger,
  ) {}

  /**
   * Counts `req`'s body against the budget until `res` closes; past the budget, marks the
   * response to close its connection (which drops the body unread) and returns why, for a 503.
   */
  admit(req: IncomingMessage, res: ServerResponse): string | undefined {
    const length = req.headers['content-length'];
    const bytes =
      length !== undefined ? (Number(length) > this.bodyLimitBytes ? 0 : Number(length) || 0) : req.headers['transfer-encoding'] ? this.bodyLimitBytes : 0;
    if (bytes === 0) return undefined;
    if (this.held + bytes > this.limitBytes) {
      this.log.debug({ path: req.url, bytes, held: this.held }, 'request refused: too many bodies being received at once');
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', '10');
      return `busy: ${this.held} bytes of request bodies are being received already (at most ${this.limitBytes}); try again later`;
    }
    this.held += bytes;
    res.once('close', () => {
      this.held -= bytes;
    });
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

export function createHttpServer(deps: ServerDeps): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return send(res, 400, { error: `malformed request target ${JSON.stringify((req.url ?? '').slice(0, 200))}` });
    }
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /healthz':
        return send(res, 200, 'ok\n', 'text/plain');
      case 'GET /readyz':
        return deps.ready() ? send(res, 200, 'ok\n', 'text/plain') : send(res, 503, 'not ready\n', 'text/plain');
      case 'GET /metrics':
        return send(res, 200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType);
      case 'POST /hooks/github':
      case 'POST /hooks/registry':
        if (closing.has(server)) {
          req.resume();
          return send(res, 503, { error: 'shutting down; send it again to the next leader' });
        }
        return route === 'POST /hooks/github' ? github(req, res) : registry(req, res);
      default:
        if (deps.dashboard && (await deps.dashboard.handle(req, res, url))) return;
        return send(res, 404, { error: `no route ${route}` });
    }
  };
  const github = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const secret = deps.githubSecret?.();
    if (!secret) {
      deps.metrics.webhooks.inc({ hook: 'github', outcome: 'not-configured' });
      return send(res, 503, { error: 'the GitHub webhook secret is not configured' });
    }
    const body = await readBoundedBody(req, deps.bodyLimitBytes, 'destroy');
    if (!verifyGithubSignature(secret, body, req.headers['x-hub-signature-256'] as string | undefined)) {
      deps.metrics.webhooks.inc({ hook: 'github', outcome: 'bad-signature' });
      deps.log.warn({ hook: 'github' }, 'webhook refused: missing or bad signature');
      return send(res, 401, { error: 'missing or bad X-Hub-Signature-256' });
    }
    // Shutdown began while the body arrived: this replica will not sync any more.
    if (closing.has(server)) return send(res, 503, { error: 'shutting down; send it again to the next leader' });
    const event = req.headers['x-github-event'];
    if (event === 'ping') return send(res, 200, { pong: true });
    if (event !== 'push') return send(res, 202, { ignored: `event ${String(event)}` });
    let push: ReturnType<typeof parsePushEvent>;
    try {
      push = parsePushEvent(JSON.parse(body.toString('utf8')));
    } catch {
      push = undefined;
    }
    if (!push) return send(res, 400, { error: 'not a branch push event' });
    const triggered = deps.onGithubPush(push.repositories, push.branch);
    deps.metrics.webhooks.inc({ hook: 'github', outcome: triggered.length > 0 ? 'triggered' : 'no-match' });
    deps.log.info({ hook: 'github', branch: push.branch, triggered }, 'push webhook');
    return send(res, 202, { triggered });
  };
  const registry = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const token = deps.registryToken?.();
    if (!token) {
      deps.metrics.webhooks.inc({ hook: 'registry', outcome: 'not-configured' });
      return send(res, 503, { error: 'the registry webhook token is not configured' });
    }
    if (!verifyBearer(token, req.headers.authorization)) {
      deps.metrics.webhooks.inc({ hook: 'registry', outcome: 'bad-token' });
      return send(res, 401, { error: 'missing or bad bearer token' });
    }
    const body = await readBoundedBody(req, deps.bodyLimitBytes, 'destroy');
    let images: PushedImage[] = [];
    try {
      images = parseRegistryEvents(JSON.parse(body.toString('utf8')));
    } catch {
      return send(res, 400, { error: 'not a notification envelope' });
    }
    const triggered = images.length > 0 ? deps.onRegistryPush(images) : [];
    deps.metrics.webhooks.inc({ hook: 'registry', outcome: triggered.length > 0 ? 'triggered' : 'no-match' });
    return send(res, 202, { triggered });
  };
  const bodies = new BodyBudget(deps.bodyLimitBytes, deps.bodyBufferLimitBytes ?? largestBodiesAtOnce * deps.bodyLimitBytes, deps.log);
  const server = createServer(requestTimeoutOptions(deps.timeouts ?? defaultRequestTimeouts), (req, res) => {
    if (closing.has(server)) res.setHeader('connection', 'close');
    // A request that was in flight when shutdown began leaves an idle keep-alive connection.
    res.on('finish', () => {
      if (closing.has(server)) setImmediate(() => server.closeIdleConnections());
    });
    const busy = bodies.admit(req, res);
    if (busy) return send(res, 503, { error: busy });
    handle(req, res).catch((error: unknown) => {
      if (error instanceof BodyTooLarge) return send(res, 413, { error: `body larger than ${deps.bodyLimitBytes} bytes` });
      if (error instanceof FormTooLarge) return send(res, 413, { error: error.message });
      if (clientGone(req, error)) {
        deps.log.debug({ err: (error as Error).message, path: req.url }, 'the client went away before the answer');
        return;
      }
      deps.log.error({ err: (error as Error).message, path: req.url }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  if (deps.dashboard) {
    const dashboard = deps.dashboard;
    onClose.set(server, () => dashboard.close());
  }
  return server;
}

/** Servers whose answers close their connection: shutdown began. */
const closing = new WeakSet<object>();
/** What a server ends first when it closes (the dashboard's event streams). */
const onClose = new WeakMap<object, () => void>();

/**
 * Stops accepting connections and closes idle keep-alive ones; requests in flight may finish
 * until `deadline` (epoch ms), then the connections left are cut. Resolves when the server is
 * closed; false when connections had to be cut.
 */
export async function closeServer(server: Server, deadline: number): Promise<boolean> {
  closing.add(server);
  // Open dashboard pages hold event streams: end them, or they would wait for the deadline.
  onClose.get(server)?.();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()))));
  const first = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (first !== 'late') return true;
  server.closeAllConnections();
  await closed;
  return false;
}
