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
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
}

export interface ServerOptions {
  /** Largest webhook body accepted. */
  bodyLimitBytes: number;
}

export function defaultServerOptions(): ServerOptions {
  return { bodyLimitBytes: 1024 * 1024 };
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

export function createHttpServer(deps: ServerDeps): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
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
  const server = createServer((req, res) => {
    if (closing.has(server)) res.setHeader('connection', 'close');
    // A request that was in flight when shutdown began leaves an idle keep-alive connection.
    res.on('finish', () => {
      if (closing.has(server)) setImmediate(() => server.closeIdleConnections());
    });
    handle(req, res).catch((error: unknown) => {
      if (error instanceof BodyTooLarge) return send(res, 413, { error: `body larger than ${deps.bodyLimitBytes} bytes` });
      if (error instanceof FormTooLarge) return send(res, 413, { error: error.message });
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
