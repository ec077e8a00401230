/**
 * The HTTP layer to the Kubernetes API server.
 *
 * kubeconfig.ts says where the server is and how to authenticate; every request body and
 * response is raw JSON that we send and read ourselves, because `@kubernetes/client-node`'s
 * typed serializer drops fields it does not know (docs/adr/0001-own-kubernetes-http-layer.md).
 * One keep-alive agent is shared by all requests so that concurrent applies reuse connections.
 */
import http from 'node:http';
import https from 'node:https';
import { loadConnection, type Connection } from './kubeconfig.js';

export interface KubeStatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** A non-2xx answer of the API server, with its `Status` reason and message. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: KubeStatusBody | undefined;
  readonly method: string;
  readonly path: string;

  constructor(method: string, path: string, status: number, body: KubeStatusBody | undefined, raw: string) {
    const message = body?.message ?? (raw.slice(0, 300) || `HTTP ${status}`);
    super(`${method} ${path}: ${status} ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = body?.reason ?? '';
    this.body = body;
    this.method = method;
    this.path = path;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON-serialisable value or a ready string. */
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Statuses that are returned instead of thrown (e.g. 404 on a get). */
  accept?: number[];
}

export interface KubeResponse<T> {
  status: number;
  body: T;
}

/** Requests made, by HTTP method: lets tests and benchmarks count writes. */
export type RequestCounts = Record<string, number>;

export class KubeHttp {
  readonly server: URL;
  readonly counts: RequestCounts;
  private readonly connection: Connection;
  private readonly agent: http.Agent;
  /** `Impersonate-User`, when requests are made on behalf of another identity. */
  private readonly impersonate: string | undefined;

  private constructor(connection: Connection, agent: http.Agent, impersonate?: string, counts: RequestCounts = {}) {
    this.connection = connection;
    this.server = connection.server;
    this.agent = agent;
    this.impersonate = impersonate;
    this.counts = counts;
  }

  /**
   * The same connection, every request made as `user` (e.g.
   * `system:serviceaccount:team-a:deployer`): the API server authorizes each request as that
   * user, so a Pipeline can do only what its ServiceAccount may. Shares the connection pool
   * and the request counts.
   */
  impersonating(user: string): KubeHttp {
    return new KubeHttp(this.connection, this.agent, user, this.counts);
  }

  /** Connects with a connection, or with `kubeconfig` / KUBECONFIG / in-cluster / ~/.kube/config. */
  static async connect(connection?: Connection, options: { maxSockets?: number } = {}): Promise<KubeHttp> {
    const conn = connection ?? (await loadConnection());
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64, ...conn.tls };
    const agent = conn.server.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    return new KubeHttp(conn, agent);
  }

  /**
   * The same server and identity over a pool of its own: writes that may pile up (a hub's
   * Device reports) cannot take the sockets that other requests need.
   */
  withPool(maxSockets: number): Promise<KubeHttp> {
    return KubeHttp.connect(this.connection, { maxSockets });
  }

  static async fromKubeconfigFile(path: string, options: { maxSockets?: number } = {}): Promise<KubeHttp> {
    return KubeHttp.connect(await loadConnection(path), options);
  }

  close(): void {
    this.agent.destroy();
  }

  private async authHeaders(): Promise<http.OutgoingHttpHeaders> {
    const authorization = await this.connection.authorization();
    const headers: http.OutgoingHttpHeaders = authorization ? { authorization } : {};
    if (this.impersonate) headers['impersonate-user'] = this.impersonate;
    return headers;
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path, this.server);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<KubeResponse<T>> {
    const url = this.url(path, options.query);
    const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: http.OutgoingHttpHeaders = {
      ...(await this.authHeaders()),
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    this.counts[method] = (this.counts[method] ?? 0) + 1;
    const transport = url.protocol === 'https:' ? https : http;
    const { status, raw } = await new Promise<{ status: number; raw: string }>((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    if ((status < 200 || status > 299) && !options.accept?.includes(status)) {
      throw new KubeApiError(method, url.pathname, status, typeof body === 'object' ? (body as KubeStatusBody) : undefined, raw);
    }
    return { status, body: body as T };
  }

  /**
   * Opens a streaming GET (watch) and calls `onLine` for every newline-delimited JSON event.
   * Resolves when the server ends the stream; `signal` aborts it.
   */
  async stream(path: string, query: RequestOptions['query'], onLine: (event: unknown) => void, signal?: AbortSignal): Promise<void> {
    const url = this.url(path, query);
    const headers = { ...(await this.authHeaders()), accept: 'application/json' };
    const transport = url.protocol === 'https:' ? https : http;
    this.counts.WATCH = (this.counts.WATCH ?? 0) + 1;
    await new Promise<void>((resolve, reject) => {
      const req = transport.request(url, { method: 'GET', headers, agent: this.agent, signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            let body: KubeStatusBody | undefined;
            try {
              body = JSON.parse(raw) as KubeStatusBody;
            } catch {
              body = undefined;
            }
            reject(new KubeApiError('GET', url.pathname, res.statusCode ?? 0, body, raw));
          });
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (!line) continue;
            try {
              onLine(JSON.parse(line));
            } catch (error) {
              req.destroy(error instanceof Error ? error : new Error(String(error)));
              return;
            }
            newline = buffered.indexOf('\n');
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', (error) => (signal?.aborted ? resolve() : reject(error)));
      req.end();
    });
  }
}
