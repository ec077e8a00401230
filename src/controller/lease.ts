/**
 * Leader election on a `coordination.k8s.io/v1` Lease, so that several replicas are safe:
 * only the holder syncs. The holder renews the Lease every `renewMs`; a Lease not renewed
 * for `durationMs` is free to take. Writes use the Lease's resourceVersion, so two replicas
 * racing for it cannot both win (the API server refuses the second with 409).
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
  private lastRenew = 0;
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
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = !holder || renewed + (lease.spec.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
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

  private async tick(): Promise<void> {
    let holding: boolean;
    try {
      holding = await this.tryAcquireOrRenew();
      if (holding) this.lastRenew = Date.now();
    } catch (error) {
      // A conflict means another replica wrote first; anything else is a failed renew,
      // and the Lease is ours only until it would expire for the others.
      if (!(error instanceof KubeApiError && error.status === 409)) {
        this.log.warn({ err: (error as Error).message }, 'lease renew failed');
      }
      holding = this.held && Date.now() - this.lastRenew < this.options.durationMs - this.options.renewMs;
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
