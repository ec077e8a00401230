/**
 * Every hub replica's view of the Fleets of its namespace: one LIST+WATCH (informer.ts: the
 * guards of the controller's Pipeline watch), answering device requests from memory.
 *
 * Two kinds of listeners: `onChange` fires only when what a device would be told changes
 * (status.revision, status.revisions, status.rollout) — long-polls wait on it, and a status
 * write that changes only `lastPolled` or conditions wakes nobody; `onEvent` sees every
 * upsert and delete (the upstream poller follows spec changes with it).
 */
import { hubApiVersion, type Device, type Fleet, type Revision } from '../api/hub.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import { Informer, type InformerOptions } from './informer.js';
import { rolloutTarget } from './rollout/targets.js';

export type FleetEvent = { type: 'upsert'; fleet: Fleet } | { type: 'delete'; name: string };

const targetJson = (fleet: Fleet | undefined) =>
  JSON.stringify([fleet?.status?.revision ?? null, fleet?.status?.revisions ?? null, fleet?.status?.rollout ?? null]);

/** True when a device could be told something different after `after` than before (added and deleted Fleets included). */
export function targetChanged(before: Fleet | undefined, after: Fleet | undefined): boolean {
  if (!before || !after) return before !== after;
  return targetJson(before) !== targetJson(after);
}

export class FleetCache {
  private readonly informer: Informer<Fleet>;
  /** What devices were last told, per Fleet (targetJson), to fire onChange only on a change. */
  private readonly targets = new Map<string, string>();
  private readonly changeListeners: Array<(fleet: string) => void> = [];
  private readonly eventListeners: Array<(event: FleetEvent) => void> = [];

  constructor(client: KubeClient, namespace: string, log: Logger, options?: InformerOptions) {
    this.informer = new Informer<Fleet>(
      client,
      hubApiVersion,
      'Fleet',
      namespace,
      log,
      (object) => object as unknown as Fleet,
      (name, fleet) => this.dispatch(name, fleet),
      options,
    );
  }

  /** Called by the informer after each change of the view (and by unit tests): the Fleet, or undefined once deleted. */
  dispatch(name: string, fleet: Fleet | undefined): void {
    const event: FleetEvent = fleet ? { type: 'upsert', fleet } : { type: 'delete', name };
    for (const listener of this.eventListeners) listener(event);
    const before = this.targets.get(name);
    const after = fleet ? targetJson(fleet) : undefined;
    if (after === undefined) this.targets.delete(name);
    else this.targets.set(name, after);
    if (before !== after) for (const listener of this.changeListeners) listener(name);
  }

  start(): void {
    this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get hasSynced(): boolean {
    return this.informer.hasSynced;
  }

  get(name: string): Fleet | undefined {
    return this.informer.get(name);
  }

  list(): Fleet[] {
    return [...this.informer.values()];
  }

  /** The revision `device` should run: its rollout stage's (rollout/targets.ts), the newest without a rollout policy. */
  targetFor(fleet: string, device: Device): Revision | undefined {
    return rolloutTarget(this.get(fleet), device);
  }

  /** Called with the Fleet's name when what its devices would be told changed (or it was added or deleted). */
  onChange(listener: (fleet: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Called on every upsert and delete (relists included). */
  onEvent(listener: (event: FleetEvent) => void): void {
    this.eventListeners.push(listener);
  }
}
