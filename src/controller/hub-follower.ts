/**
 * The agent's side of a hub: for each Pipeline with `spec.hub`, one long-poll loop that keeps
 * the device's current target (the revision the hub chose for it) and triggers a sync when it
 * changes; and the reports the device sends after its syncs.
 *
 * An unchanged target costs one idle request per poll period (the hub answers 304 after
 * `spec.hub.pollTimeout`). When the hub cannot be reached, the device keeps what it runs and
 * retries with exponential backoff and full jitter (a random wait between zero and the
 * backoff), so that thousands of agents whose hub restarted do not come back in the same
 * second. A device that was offline for a week simply receives its current target on its
 * first answered poll. Reports are sent only when they differ from the last one the hub took.
 */
import type { DeviceReport } from '../api/hub.js';
import { parseDuration, type HubSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import type { Target } from '../hub/protocol.js';
import { HubClient, HubError, defaultHubClientOptions } from '../source/hub.js';

export interface HubFollowerOptions {
  /** First retry delay after a failure; doubles per failure up to `maxBackoffMs`. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Overrides `spec.hub.pollTimeout` (tests). */
  pollSeconds?: number;
}

export function defaultHubFollowerOptions(): HubFollowerOptions {
  // A first retry spread over 5 s: 10,000 agents of a restarted hub come back at ~2,000/s, not at once.
  return { baseBackoffMs: 5_000, maxBackoffMs: 60_000 };
}

/** Full jitter: a random wait in [0, min(max, base·2^failures)). */
export function backoffDelay(failures: number, options: Pick<HubFollowerOptions, 'baseBackoffMs' | 'maxBackoffMs'>, random = Math.random): number {
  const ceiling = Math.min(options.maxBackoffMs, options.baseBackoffMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}

export interface HubCredentials {
  token: string;
  /** A CA the hub's certificate chains to (key `ca.crt`), when it is not publicly trusted. */
  ca?: string;
  /** The device name (from the token). */
  device: string;
}

/** Reads the device token Secret (`token`, optional `ca.crt`). */
export async function hubCredentialsFromSecret(client: KubeClient, namespace: string, name: string): Promise<HubCredentials> {
  const secret = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name })) as { data?: Record<string, string> } | undefined;
  if (!secret) throw new HubError(`hub credentials: Secret ${namespace}/${name} not found (spec.hub.secretRef)`, 401);
  const read = (key: string) => (secret.data?.[key] ? Buffer.from(secret.data[key], 'base64').toString('utf8').trim() : undefined);
  const token = read('token');
  if (!token) throw new HubError(`hub credentials: Secret ${namespace}/${name} has no "token" key (spec.hub.secretRef)`, 401);
  const dot = token.lastIndexOf('.');
  if (dot <= 0) throw new HubError(`hub credentials: the "token" of Secret ${namespace}/${name} is not a device token`, 401);
  return { token, ca: read('ca.crt'), device: token.slice(0, dot) };
}

interface Follow {
  spec: HubSpec;
  key: string;
  target?: Target;
  etag?: string;
  /** The last failure, while failing (the Pipeline's status says it). */
  error?: HubError;
  client?: HubClient;
  device?: string;
  lastReport?: string;
  abort: AbortController;
  failures: number;
}

export class HubFollower {
  private readonly follows = new Map<string, Follow>();
  private stopped = false;

  constructor(
    private readonly deps: { client: KubeClient; namespace: string; log: Logger; changed: (name: string) => void },
    private readonly options: HubFollowerOptions = defaultHubFollowerOptions(),
  ) {}

  /** Starts (or, when the hub settings changed, restarts) the loop of one Pipeline. */
  follow(name: string, spec: HubSpec): void {
    if (this.stopped) return;
    const key = JSON.stringify([spec.url, spec.fleet, spec.secretRef.name, spec.pollTimeout, spec.insecure]);
    const existing = this.follows.get(name);
    if (existing?.key === key) return;
    existing?.abort.abort();
    const follow: Follow = { spec, key, abort: new AbortController(), failures: 0 };
    this.follows.set(name, follow);
    void this.loop(name, follow);
  }

  forget(name: string): void {
    this.follows.get(name)?.abort.abort();
    this.follows.delete(name);
  }

  /** The target to sync to; or why there is none. */
  state(name: string): { target?: Target; error?: HubError; client?: HubClient; device?: string } {
    const follow = this.follows.get(name);
    return { target: follow?.target, error: follow?.error, client: follow?.client, device: follow?.device };
  }

  private async loop(name: string, follow: Follow): Promise<void> {
    const { signal } = follow.abort;
    const pollSeconds = this.options.pollSeconds ?? Math.round(parseDuration(follow.spec.pollTimeout) / 1000);
    while (!signal.aborted) {
      try {
        if (!follow.client) {
          const credentials = await hubCredentialsFromSecret(this.deps.client, this.deps.namespace, follow.spec.secretRef.name);
          follow.client = new HubClient(follow.spec.url, credentials.token, { ...defaultHubClientOptions(), ca: credentials.ca });
          follow.device = credentials.device;
        }
        // The first poll asks at once; later ones wait for a change.
        const answer = await follow.client.target(follow.spec.fleet, follow.etag, follow.target ? pollSeconds : 0, signal);
        const recovered = follow.error !== undefined;
        follow.error = undefined;
        follow.failures = 0;
        if (answer) {
          const changed = answer.target.revision !== follow.target?.revision;
          follow.target = answer.target;
          follow.etag = answer.etag;
          if (changed) {
            this.deps.log.info(
              { pipeline: name, fleet: follow.spec.fleet, revision: answer.target.revision, commit: answer.target.commit },
              'hub target changed',
            );
            this.deps.changed(name);
          }
        }
        if (recovered && !answer) this.deps.changed(name);
      } catch (error) {
        if (signal.aborted) return;
        const hubError = error instanceof HubError ? error : new HubError((error as Error).message, 0);
        follow.failures += 1;
        // A new kind of failure (unreachable, then refused) is worth a sync: it records it in the
        // Pipeline's status at once rather than at the next resync.
        const news = follow.error?.status !== hubError.status;
        follow.error = hubError;
        // A refused token may have been replaced in its Secret: read it again next time.
        if (hubError.status === 401 || hubError.status === 403) follow.client = undefined;
        // A hub that says when to come back (Retry-After, spread by the hub) is taken at its word.
        const delay = Math.max(hubError.retryAfterMs ?? 0, backoffDelay(follow.failures, this.options));
        this.deps.log.warn({ pipeline: name, fleet: follow.spec.fleet, err: hubError.message, retryInMs: delay }, 'hub poll failed');
        if (news) this.deps.changed(name);
        await sleep(delay, signal);
      }
    }
  }

  /** Sends the device's report when it differs from the last one the hub accepted (never throws). */
  async report(name: string, report: DeviceReport): Promise<void> {
    const follow = this.follows.get(name);
    if (!follow?.client || !follow.device) return;
    const text = JSON.stringify(report);
    if (text === follow.lastReport) return;
    try {
      await follow.client.report(follow.spec.fleet, follow.device, report);
      follow.lastReport = text;
    } catch (error) {
      // The next sync reports again: the report is a state, not an event.
      this.deps.log.warn({ pipeline: name, err: (error as Error).message }, 'hub report failed');
    }
  }

  stop(): void {
    this.stopped = true;
    for (const follow of this.follows.values()) follow.abort.abort();
    this.follows.clear();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      signal.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
