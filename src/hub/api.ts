/**
 * The devices' side of the hub: the routes of src/hub/protocol.ts.
 *
 * Every path segment that names something (Fleet, device, bundle digest) is matched on the raw
 * request path against its strict pattern before anything else happens: `..`, percent-escapes
 * or a `/` cannot reach a route, let alone an object in the API server.
 *
 * Target long-polls are held here: each open poll waits for a change of its Fleet (the Fleet
 * cache's `onChange`), of its Device (deleted, or its token changed: 401 at once; relabelled: the
 * target is looked up again), for its deadline (304), or for the hub's shutdown (503 with a
 * spread `Retry-After`, so that thousands of agents do not come back in the same second).
 *
 * Enrollment is open to anyone: refused attempts are counted per client address, and an
 * address past its limit is answered 429 before any API call is made for it.
 *
 * Tokens are never logged: log lines name the device, never the Authorization header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Device, type Fleet, type Revision, deviceReportSchema, fleetSpecSchema } from '../api/hub.js';
import type { PipelineSpec } from '../api/pipeline.js';
import type { Logger } from '../log.js';
import { BodyTooLarge, readBoundedBody } from '../server/body.js';
import { normalizeAddress } from '../server/ui/auth.js';
import { FailureThrottle } from '../server/throttle.js';
import type { DeviceRegistry } from './devices.js';
import { HubRefusal } from './errors.js';
import type { HubMetrics } from './metrics.js';
import {
  type EnrollResponse,
  type ProtocolError,
  type Target,
  bundleDigestHeader,
  bundleDigestPattern,
  deviceNameSchema,
  enrollRequestSchema,
  fleetNameSchema,
  maxWaitSeconds,
} from './protocol.js';

/** What the API needs of the Fleet cache (src/hub/fleets.ts). */
export interface FleetView {
  readonly hasSynced: boolean;
  get(name: string): Fleet | undefined;
  targetFor(fleet: string, device: Device): Revision | undefined;
  onChange(listener: (fleet: string) => void): void;
}

/** What the API needs of the bundle store (src/hub/bundles.ts). */
export interface BundleSource {
  get(digest: string): Promise<Buffer | undefined>;
}

/** What the API needs of the enrollment tokens (src/hub/tokens.ts). */
export interface EnrollmentTokenSpender {
  consume(token: string, fleet: string): Promise<{ labels: Record<string, string> }>;
  giveBack(token: string): Promise<boolean>;
}

export interface HubApiOptions {
  /** Largest report body. */
  reportLimitBytes: number;
  /** Largest enrollment body. */
  enrollLimitBytes: number;
  /** Longest a poll may be held, seconds (the protocol's maximum unless lower). */
  maxWaitSeconds: number;
  /** A shutdown answers open polls with `Retry-After` spread over 1..this many seconds. */
  retryAfterSpreadSeconds: number;
  /** Open polls per device (a newer one answers the oldest 304). */
  pollsPerDevice: number;
  /** Refused enrollments a client address may make in a minute before it is answered 429 for a minute, before any API call. */
  enrollFailuresPerMinute: number;
}

export function defaultHubApiOptions(): HubApiOptions {
  return {
    reportLimitBytes: 64 * 1024,
    enrollLimitBytes: 16 * 1024,
    maxWaitSeconds,
    retryAfterSpreadSeconds: 15,
    pollsPerDevice: 2,
    enrollFailuresPerMinute: 20,
  };
}

export interface HubApiDeps {
  log: Logger;
  metrics: HubMetrics;
  devices: DeviceRegistry;
  fleets: FleetView;
  bundles: BundleSource;
  tokens: EnrollmentTokenSpender;
  options?: Partial<HubApiOptions>;
}

/** An open long-poll. */
interface Waiter {
  device: Device;
  fleet: string;
  /** The revision the device holds (its If-None-Match). */
  revision: string;
  res: ServerResponse;
  timer: NodeJS.Timeout;
  done: boolean;
}

const reservedLabelPrefix = 'hub.doris.dev/';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, refusal: HubRefusal, headers: Record<string, string> = {}): void {
  const body: ProtocolError = { error: refusal.code, message: refusal.message };
  const extra: Record<string, string> = refusal.status === 401 ? { 'www-authenticate': 'Bearer realm="doris-hub"' } : {};
  sendJson(res, refusal.status, body, { ...extra, ...headers });
}

/** The request body, refused (413) past `limit` bytes whether or not Content-Length says so. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBoundedBody(req, limit, 'drain');
  } catch (error) {
    if (error instanceof BodyTooLarge) throw new HubRefusal(413, 'too-large', error.message);
    throw error;
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HubRefusal(400, 'bad-request', 'the body is not JSON');
  }
}

function issuesText(issues: Array<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}

function segment(value: string, schema: typeof fleetNameSchema | typeof deviceNameSchema, what: string): string {
  if (!schema.safeParse(value).success) throw new HubRefusal(400, 'bad-request', `${JSON.stringify(value.slice(0, 80))} is not ${what}`);
  return value;
}

/** Whether an If-None-Match header names `etag` (a list, weak tags and `*` included). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

export class HubApi {
  private readonly options: HubApiOptions;
  private readonly byFleet = new Map<string, Set<Waiter>>();
  private readonly byDevice = new Map<string, Set<Waiter>>();
  private readonly rules = new WeakMap<Fleet, PipelineSpec['images']>();
  private closing = false;
  private readonly enrollFailures: FailureThrottle;

  constructor(private readonly deps: HubApiDeps) {
    this.options = { ...defaultHubApiOptions(), ...deps.options };
    this.enrollFailures = new FailureThrottle(this.options.enrollFailuresPerMinute);
    deps.fleets.onChange((fleet) => {
      for (const waiter of [...(this.byFleet.get(fleet) ?? [])]) this.reevaluate(waiter);
    });
    deps.devices.onChange((name) => {
      for (const waiter of [...(this.byDevice.get(name) ?? [])]) this.reevaluate(waiter);
    });
  }

  get openPolls(): number {
    let n = 0;
    for (const set of this.byFleet.values()) n += set.size;
    return n;
  }

  /** Answers a request under `/v1/`; false when the path is not the protocol's. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const raw = req.url ?? '/';
    const question = raw.indexOf('?');
    const path = question < 0 ? raw : raw.slice(0, question);
    if (!path.startsWith('/v1/')) return false;
    const query = new URLSearchParams(question < 0 ? '' : raw.slice(question + 1));
    try {
      if (this.closing) throw new HubRefusal(503, 'shutting-down', 'the hub is shutting down; try again');
      // Until the caches are filled every device would look unknown (401, "revoked"): a
      // starting hub says "later", spread, so that a fleet reconnecting after a restart neither
      // reads itself as revoked nor comes back all at once.
      if (!this.deps.devices.hasSynced || !this.deps.fleets.hasSynced) throw new HubRefusal(503, 'not-ready', 'the hub is starting; try again');
      await this.route(req, res, path, query);
    } catch (error) {
      if (!(error instanceof HubRefusal)) this.deps.log.error({ err: (error as Error).message, path }, 'hub request failed');
      const refusal = error instanceof HubRefusal ? error : new HubRefusal(500, 'internal', 'internal error');
      sendError(res, refusal, refusal.status === 503 ? { 'retry-after': this.retryAfter() } : {});
      if (!req.complete) req.resume();
    }
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    const allow = (expected: string) => {
      if (method !== expected) throw new HubRefusal(405, 'method-not-allowed', `${method} is not allowed here; use ${expected}`);
    };
    if (path === '/v1/enroll') {
      allow('POST');
      return this.enroll(req, res);
    }
    const parts = path.split('/');
    // ['', 'v1', 'fleets', F, ...]
    if (parts[2] !== 'fleets' || parts.length < 5) throw new HubRefusal(404, 'not-found', `no route ${path.slice(0, 120)}`);
    const fleet = segment(parts[3]!, fleetNameSchema, 'a Fleet name');
    if (parts.length === 5 && parts[4] === 'target') {
      allow('GET');
      return this.target(req, res, fleet, query);
    }
    if (parts.length === 6 && parts[4] === 'bundles') {
      allow('GET');
      if (!bundleDigestPattern.test(parts[5]!)) throw new HubRefusal(400, 'bad-request', 'a bundle is named sha256:<64 lower-case hex digits>');
      return this.bundle(req, res, fleet, parts[5]!);
    }
    if (parts.length === 7 && parts[4] === 'devices' && parts[6] === 'report') {
      allow('PUT');
      return this.report(req, res, fleet, segment(parts[5]!, deviceNameSchema, 'a device name'));
    }
    throw new HubRefusal(404, 'not-found', `no route ${path.slice(0, 120)}`);
  }

  /** The device behind the request's token, if it belongs to `fleet`. */
  private deviceOf(req: IncomingMessage, fleet: string): Device {
    const device = this.deps.devices.authenticate(req.headers.authorization);
    if (device.spec.fleet !== fleet) {
      throw new HubRefusal(403, 'forbidden', `device ${device.metadata.name} belongs to Fleet ${device.spec.fleet}, not ${fleet}`);
    }
    return device;
  }

  private async enroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = normalizeAddress(req.socket.remoteAddress ?? '');
    const throttledFor = this.enrollFailures.throttledFor(client, Date.now());
    if (throttledFor !== undefined) {
      this.deps.metrics.enrollments.inc({ outcome: 'refused' });
      return this.sendThrottled(req, res, throttledFor);
    }
    try {
      const parsed = enrollRequestSchema.safeParse(parseJson(await readBody(req, this.options.enrollLimitBytes)));
      if (!parsed.success) throw new HubRefusal(400, 'bad-request', `not an enrollment request: ${issuesText(parsed.error.issues)}`);
      const request = parsed.data;
      const reserved = Object.keys(request.labels).find((k) => k.startsWith(reservedLabelPrefix));
      if (reserved) throw new HubRefusal(400, 'bad-request', `label ${reserved} is the hub's own (${reservedLabelPrefix}*); choose another key`);
      const grant = await this.deps.tokens.consume(request.enrollmentToken, request.fleet);
      let token: string;
      try {
        // The operator's labels (of the enrollment token) win over what the device asks for.
        token = await this.deps.devices.enroll(request.device, request.fleet, { ...request.labels, ...grant.labels });
      } catch (error) {
        // No Device, no enrollment: the use goes back to the token.
        const givenBack = await this.deps.tokens.giveBack(request.enrollmentToken).catch(() => false);
        if (!givenBack) this.deps.log.warn({ device: request.device, fleet: request.fleet }, 'could not give an enrollment token its use back');
        throw error;
      }
      this.deps.metrics.enrollments.inc({ outcome: 'enrolled' });
      const body: EnrollResponse = { device: request.device, fleet: request.fleet, token };
      sendJson(res, 200, body);
    } catch (error) {
      if (!(error instanceof HubRefusal)) throw error;
      this.deps.metrics.enrollments.inc({ outcome: 'refused' });
      // Anyone may try: a refusal is not news, except a name taken by an enrolled device.
      this.deps.log[error.status === 409 ? 'info' : 'debug']({ code: error.code, why: error.message }, 'enrollment refused');
      const failedAt = Date.now();
      if (error.status < 400 || error.status >= 500 || !this.enrollFailures.fail(client, failedAt)) throw error;
      this.sendThrottled(req, res, this.enrollFailures.throttledFor(client, failedAt) ?? 60_000);
    }
  }

  private sendThrottled(req: IncomingMessage, res: ServerResponse, forMs: number): void {
    const refusal = new HubRefusal(429, 'throttled', 'too many refused enrollments from this address; wait before trying again (see Retry-After)');
    sendError(res, refusal, { 'retry-after': String(Math.ceil(forMs / 1000)) });
    if (!req.complete) req.resume();
  }

  private rulesOf(fleet: Fleet): PipelineSpec['images'] {
    let rules = this.rules.get(fleet);
    if (!rules) {
      const parsed = fleetSpecSchema.safeParse(fleet.spec);
      rules = parsed.success ? parsed.data.images : [];
      this.rules.set(fleet, rules);
    }
    return rules;
  }

  private targetBody(fleet: Fleet, revision: Revision): Target {
    const name = fleet.metadata.name;
    return {
      fleet: name,
      revision: revision.id,
      commit: revision.commit,
      bundle: { digest: revision.bundle, size: revision.bundleSize, url: `/v1/fleets/${name}/bundles/${revision.bundle}` },
      rules: this.rulesOf(fleet),
      images: revision.images,
    };
  }

  /** The device's target now: 404 while the Fleet is missing or has no revision yet. */
  private current(fleetName: string, device: Device): { fleet: Fleet; revision: Revision } {
    const fleet = this.deps.fleets.get(fleetName);
    if (!fleet) throw new HubRefusal(404, 'not-found', `no Fleet ${fleetName} on this hub`);
    const revision = this.deps.fleets.targetFor(fleetName, device);
    if (!revision)
      throw new HubRefusal(
        404,
        'no-revision',
        `Fleet ${fleetName} has no revision yet (the hub has not resolved its git source; see kubectl describe fleet ${fleetName})`,
      );
    return { fleet, revision };
  }

  private sendTarget(res: ServerResponse, device: Device, fleet: Fleet, revision: Revision): void {
    this.deps.devices.contact(device, revision.id);
    this.deps.metrics.longPolls.inc({ outcome: 'changed' });
    sendJson(res, 200, this.targetBody(fleet, revision), { etag: `"${revision.id}"` });
  }

  private sendUnchanged(res: ServerResponse, device: Device, revision: string): void {
    this.deps.devices.contact(device, revision);
    this.deps.metrics.longPolls.inc({ outcome: 'unchanged' });
    if (res.headersSent || res.writableEnded) return;
    res.writeHead(304, { etag: `"${revision}"`, 'cache-control': 'no-store' });
    res.end();
  }

  private async target(req: IncomingMessage, res: ServerResponse, fleetName: string, query: URLSearchParams): Promise<void> {
    let device: Device;
    try {
      device = this.deviceOf(req, fleetName);
    } catch (error) {
      this.deps.metrics.longPolls.inc({ outcome: 'refused' });
      throw error;
    }
    const waitText = query.get('wait') ?? '0';
    const wait = /^\d{1,6}$/.test(waitText) ? Number(waitText) : Number.NaN;
    if (!(wait >= 0 && wait <= this.options.maxWaitSeconds)) {
      throw new HubRefusal(400, 'bad-request', `wait must be a whole number of seconds from 0 to ${this.options.maxWaitSeconds}`);
    }
    const { fleet, revision } = this.current(fleetName, device);
    const etag = `"${revision.id}"`;
    if (!etagMatches(req.headers['if-none-match'], etag)) return this.sendTarget(res, device, fleet, revision);
    if (wait === 0) return this.sendUnchanged(res, device, revision.id);
    this.deps.devices.contact(device, revision.id);
    this.hold(res, device, fleetName, revision.id, wait);
  }

  private hold(res: ServerResponse, device: Device, fleet: string, revision: string, wait: number): void {
    const name = device.metadata.name;
    const mine = this.byDevice.get(name) ?? new Set<Waiter>();
    // A device holds at most a few polls: an older one is answered as unchanged (it asks again).
    while (mine.size >= this.options.pollsPerDevice) {
      const oldest = mine.values().next().value as Waiter;
      this.finish(oldest, () => this.sendUnchanged(oldest.res, oldest.device, oldest.revision));
    }
    const waiter: Waiter = {
      device,
      fleet,
      revision,
      res,
      done: false,
      timer: setTimeout(() => this.finish(waiter, () => this.sendUnchanged(res, device, revision)), wait * 1000),
    };
    const fleetSet = this.byFleet.get(fleet) ?? new Set<Waiter>();
    fleetSet.add(waiter);
    this.byFleet.set(fleet, fleetSet);
    mine.add(waiter);
    this.byDevice.set(name, mine);
    this.deps.devices.held(name, 1);
    this.deps.metrics.openLongPolls.inc();
    // The agent went away: forget its poll (nothing is sent).
    res.on('close', () => {
      if (!waiter.done) {
        this.deps.metrics.longPolls.inc({ outcome: 'closed' });
        this.finish(waiter, () => undefined);
      }
    });
  }

  /** Ends an open poll once: removes it from the indexes, then answers it. */
  private finish(waiter: Waiter, answer: () => void): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    const name = waiter.device.metadata.name;
    const fleetSet = this.byFleet.get(waiter.fleet);
    fleetSet?.delete(waiter);
    if (fleetSet?.size === 0) this.byFleet.delete(waiter.fleet);
    const deviceSet = this.byDevice.get(name);
    deviceSet?.delete(waiter);
    if (deviceSet?.size === 0) this.byDevice.delete(name);
    this.deps.devices.held(name, -1);
    this.deps.metrics.openLongPolls.dec();
    answer();
  }

  /** A change of the poll's Fleet or Device: answer it if its target changed or it is refused now. */
  private reevaluate(waiter: Waiter): void {
    if (waiter.done) return;
    const answer = this.changedAnswer(waiter);
    if (answer) this.finish(waiter, answer);
  }

  /** How a held poll is to be answered now, or undefined while it keeps waiting. */
  private changedAnswer(waiter: Waiter): (() => void) | undefined {
    const device = this.deps.devices.get(waiter.device.metadata.name);
    if (!device || !this.deps.devices.stillValid(waiter.device)) {
      this.deps.metrics.longPolls.inc({ outcome: 'refused' });
      const refusal = new HubRefusal(401, 'revoked', `device ${waiter.device.metadata.name} was deleted, or its token replaced: this token is revoked`);
      return () => sendError(waiter.res, refusal);
    }
    if (device.spec.fleet !== waiter.fleet) {
      const refusal = new HubRefusal(403, 'forbidden', `device ${device.metadata.name} belongs to Fleet ${device.spec.fleet} now, not ${waiter.fleet}`);
      return () => sendError(waiter.res, refusal);
    }
    const fleet = this.deps.fleets.get(waiter.fleet);
    if (!fleet) return () => sendError(waiter.res, new HubRefusal(404, 'not-found', `Fleet ${waiter.fleet} was deleted`));
    const revision = this.deps.fleets.targetFor(waiter.fleet, device);
    if (revision && revision.id !== waiter.revision) return () => this.sendTarget(waiter.res, device, fleet, revision);
    return undefined;
  }

  private async bundle(req: IncomingMessage, res: ServerResponse, fleetName: string, digest: string): Promise<void> {
    try {
      this.deviceOf(req, fleetName);
      const fleet = this.deps.fleets.get(fleetName);
      if (!fleet) throw new HubRefusal(404, 'not-found', `no Fleet ${fleetName} on this hub`);
      const revisions = [fleet.status?.revision, ...(fleet.status?.revisions ?? [])];
      if (!revisions.some((r) => r?.bundle === digest)) throw new HubRefusal(404, 'not-found', `bundle ${digest} is not one of Fleet ${fleetName}'s revisions`);
      const headers = {
        'cache-control': 'public, max-age=31536000, immutable',
        etag: `"${digest}"`,
        [bundleDigestHeader]: digest.slice('sha256:'.length),
      };
      if (etagMatches(req.headers['if-none-match'], `"${digest}"`)) {
        this.deps.metrics.bundleRequests.inc({ outcome: 'not-modified' });
        res.writeHead(304, headers);
        res.end();
        return;
      }
      const bytes = await this.deps.bundles.get(digest);
      if (!bytes) throw new HubRefusal(404, 'not-found', `bundle ${digest} is not stored (any more); the hub builds it again on its next poll`);
      this.deps.metrics.bundleRequests.inc({ outcome: 'sent' });
      this.deps.metrics.bundleBytes.inc(bytes.length);
      res.writeHead(200, { ...headers, 'content-type': 'application/gzip', 'content-length': String(bytes.length), 'x-content-type-options': 'nosniff' });
      res.end(bytes);
    } catch (error) {
      if (error instanceof HubRefusal) this.deps.metrics.bundleRequests.inc({ outcome: 'refused' });
      throw error;
    }
  }

  private async report(req: IncomingMessage, res: ServerResponse, fleetName: string, deviceName: string): Promise<void> {
    try {
      const device = this.deviceOf(req, fleetName);
      if (device.metadata.name !== deviceName) {
        throw new HubRefusal(403, 'forbidden', `device ${device.metadata.name} may write only its own report, not ${deviceName}'s`);
      }
      const parsed = deviceReportSchema.safeParse(parseJson(await readBody(req, this.options.reportLimitBytes)));
      if (!parsed.success) throw new HubRefusal(400, 'bad-request', `not a device report: ${issuesText(parsed.error.issues)}`);
      const written = await this.deps.devices.report(device, parsed.data);
      this.deps.metrics.reports.inc({ outcome: written ? 'changed' : 'unchanged' });
      if (!res.headersSent) {
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
      }
    } catch (error) {
      if (error instanceof HubRefusal) this.deps.metrics.reports.inc({ outcome: 'refused' });
      throw error;
    }
  }

  private retryAfter(): string {
    return String(1 + Math.floor(Math.random() * this.options.retryAfterSpreadSeconds));
  }

  /** Shutdown: refuse new requests and answer every open poll 503 with a spread Retry-After. */
  closeAll(): void {
    this.closing = true;
    for (const set of [...this.byFleet.values()]) {
      for (const waiter of [...set]) {
        this.deps.metrics.longPolls.inc({ outcome: 'closed' });
        this.finish(waiter, () =>
          sendError(waiter.res, new HubRefusal(503, 'shutting-down', 'the hub is shutting down; poll again'), {
            'retry-after': this.retryAfter(),
            connection: 'close',
          }),
        );
      }
    }
  }
}
