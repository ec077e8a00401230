/**
 * `doris hub`, composed: the CRDs ensured, the Fleet and Device caches, the device API, the
 * upstream poller (leader only, on the Lease `doris-hub-leader`), and one HTTP(S) server:
 *
 *   GET  /healthz, /readyz      liveness; readiness once both caches have synced
 *   GET  /metrics               Prometheus (the hub's own registry)
 *   POST /hooks/github          push events (HMAC-signed), trigger the Fleets following the repository
 *   POST /hooks/registry        registry notifications (bearer token), trigger the Fleets tracking the image
 *                               (a follower forwards the trigger to the leader: a Fleet annotation)
 *   /v1/...                     the device protocol (api.ts)
 *   /, /fleets/..., /api/fleets/..., /events, /login   the fleet view (ui/dashboard.ts; its own auth)
 *
 * Plain HTTP carries device tokens in clear: it is refused unless the listen address is
 * loopback or `insecureHttp` says a TLS-terminating proxy is in front. `stop` answers open
 * long-polls 503 (spread Retry-After), gives the Lease up, and closes the server.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { hubApiVersion, pollRequestedAnnotation } from '../api/hub.js';
import { HttpKubeClient, type KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { Logger } from '../log.js';
import { LeaderElector } from '../controller/lease.js';
import { parsePushEvent, verifyGithubSignature } from '../server/github.js';
import { BodyBudget, closeServer, largestBodiesAtOnce, requestTimeoutOptions } from '../server/http.js';
import { parseRegistryEvents, verifyBearer } from '../server/registry-hook.js';
import { HubApi, type HubApiOptions, readBody, sendJson } from './api.js';
import { BundleStore } from './bundles.js';
import { deviceCrdName, ensureHubCrds, fleetCrdName, isEstablished } from './crds.js';
import { DeviceRegistry, defaultDeviceRegistryOptions } from './devices.js';
import { HubRefusal } from './errors.js';
import { FleetCache } from './fleets.js';
import { HubMetrics } from './metrics.js';
import { EnrollmentTokens } from './tokens.js';
import { ReplicaHeartbeat, deleteReplicaLease, listReplicaBeats } from './replicas.js';
import { Upstream, type UpstreamOptions } from './upstream.js';
import { RolloutDriver } from './rollout/driver.js';
import { FleetNotifier } from './rollout/notify.js';
import { Notifier } from '../notify/dispatcher.js';
import { EventRecorder } from '../status/events.js';
import type { UiAuthConfig } from '../server/ui/auth.js';
import { createFleetDashboard } from './ui/dashboard.js';
import { RecentEvents } from './ui/recent-events.js';

export const hubLeaseName = 'doris-hub-leader';

export interface HubOptions {
  client: KubeClient;
  /** The hub namespace: Fleets, Devices, enrollment tokens, bundles and the Lease. */
  namespace: string;
  log: Logger;
  listen: { host: string; port: number };
  /** A `kubernetes.io/tls` Secret in the hub namespace: serve HTTPS with it. */
  tlsSecret?: string;
  /** Allow plain HTTP on an address that is not loopback. */
  insecureHttp?: boolean;
  workDir: string;
  identity: string;
  lease: { durationMs: number; renewMs: number };
  githubSecret?: () => string | undefined;
  registryToken?: () => string | undefined;
  registryCredentialsFile?: string;
  /** Largest webhook body. */
  bodyLimitBytes: number;
  api?: Partial<HubApiOptions>;
  upstream?: Partial<UpstreamOptions>;
  /** A device away from its replica this long is written disconnected (default 3 minutes). */
  disconnectGraceMs?: number;
  /** The fleet view's authentication (default: none on loopback, else token with no token: 503). */
  ui?: UiAuthConfig;
}

export interface RunningHub {
  /** `http(s)://host:port` as bound. */
  url: string;
  metrics: HubMetrics;
  /** Refuses new requests, answers open polls, releases the Lease, closes the server by `deadline` (epoch ms). */
  stop(deadline: number): Promise<{ clean: boolean }>;
}

/** A usage problem of the hub's options (the CLI's exit code 2). */
export class HubConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubConfigError';
  }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Why this listen/TLS combination is refused, or undefined. */
export function checkTransport(options: Pick<HubOptions, 'listen' | 'tlsSecret' | 'insecureHttp'>): string | undefined {
  if (options.tlsSecret && options.insecureHttp) return '--tls-secret and --insecure-http exclude each other';
  if (!options.tlsSecret && !options.insecureHttp && !isLoopback(options.listen.host)) {
    return `plain HTTP on ${options.listen.host}:${options.listen.port} would carry device tokens in clear: give --tls-secret NAME, or --insecure-http when a TLS proxy is in front (loopback needs neither)`;
  }
  return undefined;
}

async function readTlsSecret(client: KubeClient, namespace: string, name: string): Promise<{ cert: Buffer; key: Buffer }> {
  const secret = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name })) as { type?: string; data?: Record<string, string> } | undefined;
  if (!secret) throw new HubConfigError(`--tls-secret ${name}: no Secret ${namespace}/${name}`);
  const cert = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (!cert || !key)
    throw new HubConfigError(
      `--tls-secret ${name}: Secret ${namespace}/${name} has no tls.crt and tls.key (type kubernetes.io/tls expected, is ${secret.type ?? 'untyped'})`,
    );
  return { cert: Buffer.from(cert, 'base64'), key: Buffer.from(key, 'base64') };
}

/** The CRDs: applied when this identity may, else they must already be installed and Established. */
async function crdsReady(client: KubeClient, log: Logger): Promise<void> {
  try {
    await ensureHubCrds(client);
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 403)) throw error;
    log.warn({ err: error.message }, 'may not apply the hub CRDs; checking that they are installed');
    for (const name of [fleetCrdName, deviceCrdName]) {
      const crd = await client.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name }).catch(() => undefined);
      if (!isEstablished(crd)) throw new Error(`CRD ${name} is not installed and this identity may not install it: ${error.message}`);
    }
  }
}

/** Connections for Device writes (see startHub). */
const deviceWriteConnections = 8;

export async function startHub(options: HubOptions): Promise<RunningHub> {
  const { client, namespace, log } = options;
  const problem = checkTransport(options);
  if (problem) throw new HubConfigError(problem);
  await crdsReady(client, log);
  const tls = options.tlsSecret ? await readTlsSecret(client, namespace, options.tlsSecret) : undefined;

  const metrics = new HubMetrics();
  const deviceOptions = defaultDeviceRegistryOptions();
  const graceMs = options.disconnectGraceMs ?? deviceOptions.disconnectGraceMs;
  // Device writes (reports, presence) go through a small pool of their own: thousands of
  // devices reporting at once must not delay the Fleet writes and reads that move a rollout.
  const deviceClient = client instanceof HttpKubeClient ? await client.withPool(deviceWriteConnections) : client;
  const devices = new DeviceRegistry(deviceClient, namespace, log, { ...deviceOptions, replica: options.identity, disconnectGraceMs: graceMs });
  // Presence work runs at a third of the grace: a heartbeat renewal, a sweep.
  const presenceEveryMs = Math.min(60_000, Math.max(250, Math.floor(graceMs / 3)));
  const heartbeat = new ReplicaHeartbeat(client, namespace, options.identity, presenceEveryMs, log);
  await heartbeat.start();
  metrics.countDevicesWith(() => devices.countByState());
  const fleets = new FleetCache(client, namespace, log);
  const bundles = new BundleStore(client, namespace);
  const api = new HubApi({ log, metrics, devices, fleets, bundles, tokens: new EnrollmentTokens(client, namespace), options: options.api });
  const upstream = new Upstream(
    { client, namespace, log, fleets, bundles, workDir: options.workDir, registryCredentialsFile: options.registryCredentialsFile, metrics },
    options.upstream,
  );
  // The leader moves rollouts on; every replica answers devices from the Fleet as written.
  const fleetEvents = new RecentEvents(new EventRecorder(client, log, 'doris-hub'));
  // Rollout notifications (Fleet spec.notify): Secrets in the hub namespace; `hub` in GitHub contexts.
  const notifier = new Notifier(client, log, { namespace, cluster: 'hub' });
  const rollouts = new RolloutDriver({
    client,
    namespace,
    log,
    fleets,
    devices,
    events: fleetEvents,
    registry: metrics.registry,
    notices: new FleetNotifier(notifier, client, namespace, log),
  });
  const dashboard = createFleetDashboard({
    client,
    namespace,
    log,
    auth: options.ui ?? (isLoopback(options.listen.host) ? { mode: 'none' } : { mode: 'token', tokens: () => ({}) }),
    fleets,
    devices,
    events: fleetEvents,
  });
  const elector = new LeaderElector(client, { namespace, name: hubLeaseName, identity: options.identity, ...options.lease }, log, (leading) => {
    metrics.leader.set(leading ? 1 : 0);
    upstream.setLeading(leading);
    rollouts.setLeading(leading);
  });
  let stopping = false;

  const hooks = new Webhooks(
    options,
    metrics,
    upstream,
    log,
    () => stopping,
    () => elector.leading,
  );
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (await api.handle(req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /healthz':
        return text(res, 200, 'ok\n');
      case 'GET /readyz':
        return devices.hasSynced && fleets.hasSynced && !stopping ? text(res, 200, 'ok\n') : text(res, 503, 'not ready\n');
      case 'GET /metrics':
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        return;
      case 'POST /hooks/github':
        return hooks.github(req, res);
      case 'POST /hooks/registry':
        return hooks.registry(req, res);
      default:
        if (await dashboard.handle(req, res, new URL(req.url ?? '/', 'http://hub'))) return;
        throw new HubRefusal(404, 'not-found', `no route ${route.slice(0, 120)}`);
    }
  };
  // Webhook and enrollment bodies are read before they are authenticated.
  const bodies = new BodyBudget(options.bodyLimitBytes, largestBodiesAtOnce * options.bodyLimitBytes, log);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (stopping) res.setHeader('connection', 'close');
    const busy = bodies.admit(req, res);
    if (busy) return sendJson(res, 503, { error: 'busy', message: busy });
    handle(req, res).catch((error: unknown) => {
      if (!(error instanceof HubRefusal)) log.error({ err: (error as Error).message, path: (req.url ?? '').split('?')[0] }, 'request failed');
      const refusal = error instanceof HubRefusal ? error : new HubRefusal(500, 'internal', 'internal error');
      sendJson(res, refusal.status, { error: refusal.code, message: refusal.message });
      if (!req.complete) req.resume();
    });
  };
  // Receiving a request is bounded (a device's report, a webhook: a client that trickles one
  // must not hold its connection for minutes); answering is not, and a long-poll is held for
  // up to 300 s once its request is in.
  const timeouts = requestTimeoutOptions({ headersMs: 30_000, requestMs: 60_000, checkEveryMs: 1_000 });
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, ...timeouts }, listener) : createHttpServer(timeouts, listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.listen.port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;

  devices.start();
  fleets.start();
  rollouts.start();
  elector.start();
  const presence = new PresenceSweeper(client, namespace, devices, () => elector.leading, presenceEveryMs, log);
  presence.start();
  log.info({ identity: options.identity, url, namespace, tls: Boolean(tls) }, 'doris hub started');

  return {
    url,
    metrics,
    async stop(deadline: number) {
      stopping = true;
      presence.stop();
      heartbeat.stop();
      api.closeAll();
      dashboard.close();
      const closed = closeServer(server, deadline);
      await elector.stop(Math.max(0, Math.min(2_000, deadline - Date.now())));
      upstream.setLeading(false);
      rollouts.setLeading(false);
      await Promise.all([upstream.stop(deadline), rollouts.stop()]);
      await notifier.flush(Math.max(0, Math.min(2_000, deadline - Date.now())));
      notifier.stop();
      const clean = await closed;
      await Promise.all([devices.stop(), fleets.stop()]);
      if (deviceClient !== client) deviceClient.close();
      return { clean };
    },
  };
}

/** Replica Leases gone this long, and named by no connected device, are deleted by the leader. */
const replicaLeaseKeepMs = 60 * 60_000;

/** Every replica sweeps its own devices' presence; the leader also those of replicas that are gone. */
class PresenceSweeper {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly devices: DeviceRegistry,
    private readonly leading: () => boolean,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.once()
        .catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'presence sweep failed'))
        .finally(() => this.schedule());
    }, this.everyMs);
    this.timer.unref();
  }

  async once(): Promise<void> {
    if (!this.devices.hasSynced) return;
    if (!this.leading()) {
      await this.devices.sweep();
      return;
    }
    const beats = await listReplicaBeats(this.client, this.namespace);
    await this.devices.sweep(beats);
    const now = Date.now();
    const named = new Set(this.devices.list().flatMap((d) => (d.status?.connected === true && d.status.servedBy ? [d.status.servedBy] : [])));
    for (const [identity, beat] of beats) {
      if (named.has(identity) || now - beat.renewedAt <= beat.durationMs + replicaLeaseKeepMs) continue;
      await deleteReplicaLease(this.client, this.namespace, beat.lease);
      this.log.info({ replica: identity }, 'deleted the heartbeat Lease of a replica gone for an hour');
    }
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
  res.end(body);
}

/** The GitHub and registry webhooks: verified exactly as the controller's (src/server/http.ts), then trigger upstream polls. */
class Webhooks {
  constructor(
    private readonly options: HubOptions,
    private readonly metrics: HubMetrics,
    private readonly upstream: Upstream,
    private readonly log: Logger,
    private readonly stopping: () => boolean,
    /** Only the leader polls upstream: a follower forwards the request to it (`poll`). */
    private readonly leading: () => boolean,
  ) {}

  /**
   * The leader polls the Fleets itself; a follower asks it through the API server: it stamps
   * each Fleet's poll-request annotation, which the leader's watch turns into one poll.
   */
  private async poll(fleets: string[], why: string): Promise<'leader' | 'annotation'> {
    if (this.leading()) {
      for (const fleet of fleets) this.upstream.trigger(fleet, why);
      return 'leader';
    }
    const stamp = new Date().toISOString();
    await Promise.all(
      fleets.map((name) =>
        this.options.client
          .mergePatch(
            { apiVersion: hubApiVersion, kind: 'Fleet', namespace: this.options.namespace, name },
            { metadata: { annotations: { [pollRequestedAnnotation]: stamp } } },
          )
          .catch((error: unknown) => {
            // Gone meanwhile: nothing to poll. Anything else: the webhook's sender retries.
            if (error instanceof KubeApiError && error.status === 404) return;
            throw error;
          }),
      ),
    );
    return 'annotation';
  }

  private refuseWhileStopping(req: IncomingMessage): void {
    if (!this.stopping()) return;
    req.resume();
    throw new HubRefusal(503, 'shutting-down', 'shutting down; send it again to the next leader');
  }

  async github(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.refuseWhileStopping(req);
    const secret = this.options.githubSecret?.();
    if (!secret) {
      this.metrics.webhooks.inc({ hook: 'github', outcome: 'not-configured' });
      req.resume();
      throw new HubRefusal(503, 'not-ready', 'the GitHub webhook secret is not configured (--github-secret-file or DORIS_GITHUB_SECRET)');
    }
    const body = await readBody(req, this.options.bodyLimitBytes);
    if (!verifyGithubSignature(secret, body, req.headers['x-hub-signature-256'] as string | undefined)) {
      this.metrics.webhooks.inc({ hook: 'github', outcome: 'bad-signature' });
      this.log.warn({ hook: 'github' }, 'webhook refused: missing or bad signature');
      throw new HubRefusal(401, 'unauthorized', 'missing or bad X-Hub-Signature-256');
    }
    const event = req.headers['x-github-event'];
    if (event === 'ping') return sendJson(res, 200, { pong: true });
    if (event !== 'push') return sendJson(res, 202, { ignored: `event ${String(event).slice(0, 64)}` });
    let push: ReturnType<typeof parsePushEvent>;
    try {
      push = parsePushEvent(JSON.parse(body.toString('utf8')));
    } catch {
      push = undefined;
    }
    if (!push) throw new HubRefusal(400, 'bad-request', 'not a branch push event');
    const triggered = this.upstream.fleetsForPush(push.repositories, push.branch);
    const via = await this.poll(triggered, 'github push');
    this.metrics.webhooks.inc({ hook: 'github', outcome: triggered.length > 0 ? 'triggered' : 'no-match' });
    this.log.info({ hook: 'github', branch: push.branch, triggered, via }, 'push webhook');
    return sendJson(res, 202, { triggered, leading: via === 'leader', via });
  }

  async registry(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.refuseWhileStopping(req);
    const token = this.options.registryToken?.();
    if (!token) {
      this.metrics.webhooks.inc({ hook: 'registry', outcome: 'not-configured' });
      req.resume();
      throw new HubRefusal(503, 'not-ready', 'the registry webhook token is not configured (--registry-token-file or DORIS_REGISTRY_TOKEN)');
    }
    if (!verifyBearer(token, req.headers.authorization)) {
      this.metrics.webhooks.inc({ hook: 'registry', outcome: 'bad-token' });
      req.resume();
      throw new HubRefusal(401, 'unauthorized', 'missing or bad bearer token');
    }
    const body = await readBody(req, this.options.bodyLimitBytes);
    let images: ReturnType<typeof parseRegistryEvents>;
    try {
      images = parseRegistryEvents(JSON.parse(body.toString('utf8')));
    } catch {
      throw new HubRefusal(400, 'bad-request', 'not a notification envelope');
    }
    const triggered = images.length > 0 ? this.upstream.fleetsForImages(images) : [];
    const via = await this.poll(triggered, 'registry push');
    this.metrics.webhooks.inc({ hook: 'registry', outcome: triggered.length > 0 ? 'triggered' : 'no-match' });
    return sendJson(res, 202, { triggered, leading: via === 'leader', via });
  }
}
