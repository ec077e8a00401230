/**
 * Leader election on a `coordination.k8s.io/v1` Lease, so that several replicas are safe:
 * only the holder syncs. The holder renews the Lease every `renewMs`; a Lease not renewed
 * for `durationMs` is free to take. Writes use the Lease's resourceVersion, so two replicas
 * racing for it cannot both win (the API server refuses the second with 409).
 *
 * Two replicas must never both lead, whatever the clocks and the network do:
 * - "not renewed for `durationMs`" is judged by this replica's own clock, from when it last
 *   saw the Lease change (as client-go does), never from the `renewTime` another replica's
 *   clock wrote: a replica whose clock ran 20 s fast took a Lease renewed 100 ms before;
 * - the holder steps down `durationMs - renewMs` after its last renew was sent, even while a
 *   renew hangs (a request without an answer lasts up to the client's 60 s timeout): it went
 *   on leading for 45 s after another replica had taken over.
 */
import { KubeApiError } from '../kube/http.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import type { KubeObject } from '../render/types.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  /** This replica's identity (pod name and a random suffix). */
  identity: string;
  /** A Lease not renewed for this long may be taken over. */
  durationMs: number;
  /** How often the holder renews, and how often others try. */
  renewMs: number;
}

export function defaultLeaseOptions(namespace: string, identity: string): LeaseOptions {
  return { namespace, name: 'doris-leader', identity, durationMs: 15_000, renewMs: 5_000 };
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the last successful renew was sent (local clock). */
  private lastRenew = 0;
  /** The Lease as last seen, and when it was first seen so (local clock). */
  private observed: { version: string; at: number } | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseOptions,
    private readonly log: Logger,
    private readonly onChange: (leading: boolean) => void,
  ) {}

  get leading(): boolean {
    return this.held;
  }

  private key() {
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: this.options.namespace, name: this.options.name };
  }

  /** One attempt to acquire or renew; true while we hold the Lease. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const { name, identity, durationMs } = this.options;
    const current = (await this.client.get(this.key())) as unknown as Lease | undefined;
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(durationMs / 1000),
      renewTime: microTime(now),
    };
    if (!current) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: this.options.namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      await this.client.create(lease as unknown as KubeObject);
      return true;
    }
    const lease = current;
    const holder = lease.spec.holderIdentity;
    // Any renew changes the resourceVersion; the holder's own clock is not ours.
    const version = `${lease.metadata.resourceVersion}/${holder}/${lease.spec.renewTime}`;
    if (this.observed?.version !== version) this.observed = { version, at: now.getTime() };
    const expired = !holder || this.observed.at + (lease.spec.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
    if (holder !== identity && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        acquireTime: holder === identity ? lease.spec.acquireTime : microTime(now),
        leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    await this.client.replace(next as unknown as KubeObject);
    return true;
  }

  /** How long after its last renew was sent the holder still leads without another. */
  private get holdMs(): number {
    return this.options.durationMs - this.options.renewMs;
  }

  private async tick(): Promise<void> {
    let holding: boolean;
    const sent = Date.now();
    let deadline: NodeJS.Timeout | undefined;
    // A holder whose renew has no answer by then steps down; the renew may still land later
    // (the next tick then takes the Lease back), but never with two leaders meanwhile.
    const hung = this.held
      ? new Promise<'hung'>((resolve) => (deadline = setTimeout(() => resolve('hung'), Math.max(0, this.lastRenew + this.holdMs - sent))))
      : undefined;
    try {
      const attempt = this.tryAcquireOrRenew(new Date(sent));
      // Left behind by a deadline, its failure has nobody to tell.
      attempt.catch(() => undefined);
      const answer = await Promise.race([attempt, ...(hung ? [hung] : [])]);
      if (answer === 'hung') {
        this.log.warn({ waitedMs: Date.now() - sent }, 'lease renew has no answer; stepping down until it has');
        holding = false;
      } else {
        holding = answer;
        if (holding) this.lastRenew = sent;
      }
    } catch (error) {
      // A conflict means another replica wrote first; anything else is a failed renew,
      // and the Lease is ours only until it would expire for the others.
      if (!(error instanceof KubeApiError && error.status === 409)) {
        this.log.warn({ err: (error as Error).message }, 'lease renew failed');
      }
      holding = this.held && Date.now() - this.lastRenew < this.holdMs;
    } finally {
      clearTimeout(deadline);
    }
    // A renew that lands after stop() began changes nothing: stop() decides about the Lease.
    if (this.stopped) return;
    if (holding !== this.held) {
      this.held = holding;
      this.log.info({ identity: this.options.identity, leading: holding }, holding ? 'became the leader' : 'lost the leadership');
      this.onChange(holding);
    }
  }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      this.ticking = this.tick();
      await this.ticking;
      this.ticking = undefined;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.renewMs);
    };
    void loop();
  }

  /**
   * Stops renewing and, if we hold the Lease, gives it up so that a standby takes over on its
   * next try instead of waiting for the Lease to expire. Bounded by `timeoutMs`: an API
   * server that does not answer must not hold up the shutdown (the Lease then expires).
   */
  async stop(timeoutMs = 2_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      // A renew in flight first: releasing before it lands would let it take the Lease back.
      const release = (async () => {
        await this.ticking;
        if (this.held) await this.release();
      })();
      if ((await Promise.race([release, timeout])) === 'timeout') this.log.warn({ timeoutMs }, 'could not release the lease in time; it will expire');
    } finally {
      clearTimeout(timer);
      this.held = false;
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = (await this.client.get(this.key())) as unknown as Lease | undefined;
      if (lease?.spec.holderIdentity === this.options.identity) {
        const { renewTime: _released, ...spec } = lease.spec;
        await this.client.replace({ ...lease, spec: { ...spec, holderIdentity: '' } } as unknown as KubeObject);
        this.log.info({ identity: this.options.identity }, 'released the leader lease');
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not release the lease');
    }
  }
}
