/**
 * The Events the rollout driver of this replica recorded on each Fleet, remembered for the
 * fleet view. The hub's RBAC may create Events but not list them, so the page shows what this
 * replica wrote (the leader writes them all; a follower shows none until it leads, and
 * `kubectl get events` has every one). Bounded: the newest 20 per Fleet, Fleets that are gone
 * dropped on the next write.
 */
import type { EventReason } from '../../api/reasons.js';
import type { EventSubject } from '../../status/events.js';
import type { EventSink } from '../rollout/driver.js';

export interface FleetEvent {
  at: string;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

const perFleet = 20;
const fleetsKept = 1000;

export class RecentEvents implements EventSink {
  private readonly byFleet = new Map<string, FleetEvent[]>();
  private readonly listeners: Array<(fleet: string) => void> = [];

  constructor(
    private readonly inner: EventSink,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(subject: EventSubject, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    await this.inner.record(subject, type, reason, message);
    if (subject.kind !== 'Fleet') return;
    const name = subject.metadata.name;
    const list = this.byFleet.get(name) ?? [];
    list.unshift({ at: this.now().toISOString(), type, reason, message });
    list.length = Math.min(list.length, perFleet);
    // Re-inserted last: the least recently written Fleet is the first to go.
    this.byFleet.delete(name);
    this.byFleet.set(name, list);
    if (this.byFleet.size > fleetsKept) this.byFleet.delete(this.byFleet.keys().next().value as string);
    for (const listener of this.listeners) listener(name);
  }

  /** Newest first. */
  of(fleet: string): FleetEvent[] {
    return this.byFleet.get(fleet) ?? [];
  }

  onRecord(listener: (fleet: string) => void): void {
    this.listeners.push(listener);
  }
}
