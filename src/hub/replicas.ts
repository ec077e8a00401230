/**
 * Replica heartbeats: each hub replica renews a Lease of its own (labelled
 * `hub.doris.dev/replica`), so that one write per replica per period stands for every device
 * connected to it. When a replica dies its Lease runs out; the leader then writes its devices
 * that did not reconnect elsewhere as disconnected (src/hub/presence.ts, `orphanPatch`).
 *
 * The leader also deletes the Leases of replicas gone for a while and no longer named by any
 * connected device, so that restarts do not pile them up.
 */
import { createHash } from 'node:crypto';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../kube/object.js';
import type { Logger } from '../log.js';
import type { ReplicaBeat } from './presence.js';

export const replicaLabel = 'hub.doris.dev/replica';

interface Lease {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The Lease name of a replica: readable where the identity allows, unique by its hash. */
export function replicaLeaseName(identity: string): string {
  const readable = identity
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/, '');
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 10);
  return `doris-hub-replica-${readable ? `${readable}-` : ''}${hash}`;
}

/** The heartbeats of all replicas by identity, from their Leases. */
export async function listReplicaBeats(client: KubeClient, namespace: string): Promise<Map<string, ReplicaBeat & { lease: string }>> {
  const leases = (await client.list('coordination.k8s.io/v1', 'Lease', { namespace, labelSelector: `${replicaLabel}=true` })) as unknown as Lease[];
  const beats = new Map<string, ReplicaBeat & { lease: string }>();
  for (const lease of leases) {
    const identity = lease.spec?.holderIdentity;
    const renewedAt = Date.parse(lease.spec?.renewTime ?? '');
    if (!identity || Number.isNaN(renewedAt)) continue;
    beats.set(identity, { renewedAt, durationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000, lease: lease.metadata.name });
  }
  return beats;
}

export class ReplicaHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly identity: string,
    /** Renewed this often; the Lease says twice this as its duration. */
    private readonly renewMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first beat is awaited: a device must never be written as served by a replica without a Lease. */
  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beat()
        .catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'could not renew the replica heartbeat Lease'))
        .finally(() => this.schedule());
    }, this.renewMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    const name = replicaLeaseName(this.identity);
    const key = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: this.namespace, name };
    const spec = { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil((2 * this.renewMs) / 1000), renewTime: microTime(this.now()) };
    const current = (await this.client.get(key)) as unknown as Lease | undefined;
    if (!current) {
      await this.client.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: this.namespace, labels: { [replicaLabel]: 'true', 'app.kubernetes.io/component': 'hub' } },
        spec,
      } as KubeObject);
      return;
    }
    await this.client.replace({ ...(current as unknown as KubeObject), spec: { ...current.spec, ...spec } } as KubeObject);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Deletes a dead replica's Lease (conditional on its resourceVersion being unchanged is not needed: a live replica recreates it). */
export async function deleteReplicaLease(client: KubeClient, namespace: string, name: string): Promise<void> {
  try {
    await client.delete({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name });
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 404)) throw error;
  }
}
