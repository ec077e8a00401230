/**
 * The rollout driver: the hub leader's loop around the pure engine (engine.ts). On every
 * Fleet change (a new revision, a policy edit, a command) and every Device change (a report,
 * new labels, a device enrolled or deleted) it runs one engine step for that Fleet and:
 *
 * - writes `Fleet.status.rollout` only when it changed (a merge patch of the status
 *   subresource), and the stage of each Device in `Device.status.stage` only when it changed;
 * - records a Kubernetes Event on the Fleet for every transition (after the write succeeded,
 *   so that a retried write does not repeat them) and counts it;
 * - consumes a command once: `doris fleet promote|pause|resume|abort` sets the annotation
 *   `hub.doris.dev/command: <verb>@<time>`; the driver acts on a value it has not seen, and
 *   records it in `status.rollout.lastCommand`;
 * - tells the Fleet's `spec.notify` receivers of a halt, rollback, abort or completion, once
 *   (notify.ts: planned before the status write that records it, sent in the background after);
 * - sets the per-stage gauges (devices, updated, ready, failed, offline);
 * - runs again when time alone may change the outcome (a soak ending, a device going offline).
 *
 * Only the leader drives (setLeading); every replica answers devices with `targetFor`, read
 * from the Fleet as the leader wrote it (targets.ts), so followers need no engine state.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Device, Fleet, Revision } from '../../api/hub.js';
import { hubApiVersion } from '../../api/hub.js';
import { type EventReason, Reasons } from '../../api/reasons.js';
import type { KubeClient } from '../../kube/client.js';
import type { Logger } from '../../log.js';
import type { EventSubject } from '../../status/events.js';
import { effectiveLastSeen } from '../presence.js';
import { type DeviceView, type RolloutCommand, type RolloutStatus, step } from './engine.js';
import { type FleetNotifier, notifiedField } from './notify.js';
import { parseRolloutPolicy, type RolloutPolicy } from './policy.js';
import { parseRolloutStatus, rolloutTarget } from './targets.js';

/** The annotation a rollout command is given through (`<verb>@<RFC 3339 time>`). */
export const commandAnnotation = 'hub.doris.dev/command';
const commandPattern = /^(promote|pause|resume|abort)@[0-9A-Za-z:.+-]{1,64}$/;

/** What the driver needs of the Fleet cache (FleetCache has it). */
export interface FleetSource {
  readonly hasSynced: boolean;
  get(name: string): Fleet | undefined;
  list(): Fleet[];
  onEvent(listener: (event: { type: 'upsert'; fleet: Fleet } | { type: 'delete'; name: string }) => void): void;
}

/** What the driver needs of the Device cache (DeviceRegistry has it). */
export interface DeviceSource {
  readonly hasSynced: boolean;
  list(): Device[];
  onChange(listener: (name: string, device: Device | undefined) => void): void;
}

/** Records an Event (EventRecorder has it). */
export interface EventSink {
  record(subject: EventSubject, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void>;
}

export interface RolloutDriverDeps {
  client: KubeClient;
  namespace: string;
  log: Logger;
  fleets: FleetSource;
  devices: DeviceSource;
  events: EventSink;
  /** The hub's metrics registry: the rollout gauges and counter are registered there. */
  registry: Registry;
  /** Tells the Fleet's `spec.notify` receivers about halts, rollbacks, aborts and completions (notify.ts). */
  notices?: FleetNotifier;
}

export interface RolloutDriverOptions {
  /** Changes within this window are handled in one step per Fleet (10,000 reports are not 10,000 steps). */
  debounceMs: number;
  /** Every Fleet is stepped at least this often (a missed change, a clock-driven transition). */
  resyncMs: number;
  /** Concurrent Device status writes (stages). */
  deviceWrites: number;
  /**
   * A change of the counts alone (devices reporting, no transition) is written at most this
   * often per Fleet: 10,000 devices reporting within seconds are a few writes, not 10,000.
   */
  countsEveryMs: number;
  now: () => Date;
}

export function defaultRolloutDriverOptions(): RolloutDriverOptions {
  return { debounceMs: 200, resyncMs: 30_000, deviceWrites: 8, countsEveryMs: 5_000, now: () => new Date() };
}

/** Top-level keys of `status.rollout` that a step may drop: sent as null so that the merge patch removes them. */
const optionalKeys = ['lastGood', 'stage', 'completedAt', 'pausedAt', 'haltedAt', 'haltedBecause', 'aborted', 'rolledBack', 'lastCommand'] as const;

const countKinds = ['devices', 'updated', 'ready', 'failed', 'offline'] as const;

export class RolloutDriver {
  private readonly options: RolloutDriverOptions;
  private leading = false;
  private stopped = true;
  private readonly dirty = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private readonly wakes = new Map<string, NodeJS.Timeout>();
  private running: Promise<void> | undefined;
  /** The status this leader last wrote, per Fleet: authoritative while leading (the cache may lag our own write). */
  private readonly written = new Map<string, RolloutStatus>();
  /** Which Fleet each Device was in, to step the right Fleet when a Device is deleted. */
  private readonly deviceFleet = new Map<string, string>();
  /** Stages written to Devices (and in flight), to write each change once. */
  private readonly stageWritten = new Map<string, string>();
  private readonly stageWrites = new Set<string>();
  private stageQueue: Array<() => Promise<void>> = [];
  private stageActive = 0;
  private readonly stageDone: Array<() => void> = [];
  /** When each Fleet's rollout status was last written (count-only changes wait for countsEveryMs). */
  private readonly countsWrittenAt = new Map<string, number>();
  /** Fleets whose stored status.rollout could not be read, already reported. */
  private readonly unreadableReported = new Set<string>();
  /** Invalid policies already reported, per Fleet (by generation). */
  private readonly invalidReported = new Map<string, number | string>();
  /** Gauge series set, per Fleet, to remove the stages that went away. */
  private readonly series = new Map<string, Set<string>>();

  readonly stageDevices: Gauge<'fleet' | 'stage' | 'count'>;
  readonly rolloutState: Gauge<'fleet' | 'state'>;
  readonly transitions: Counter<'fleet' | 'reason'>;

  constructor(
    private readonly deps: RolloutDriverDeps,
    options: Partial<RolloutDriverOptions> = {},
  ) {
    this.options = { ...defaultRolloutDriverOptions(), ...options };
    this.stageDevices = new Gauge({
      name: 'doris_hub_rollout_stage_devices',
      help: 'Devices of each rollout stage, by count (devices, and of those online on the rollout revision: updated, ready, failed; offline).',
      labelNames: ['fleet', 'stage', 'count'] as const,
      registers: [deps.registry],
    });
    this.rolloutState = new Gauge({
      name: 'doris_hub_rollout_state',
      help: 'The state of each Fleet rollout (1 for the current state: Progressing, Halted, Complete, Paused).',
      labelNames: ['fleet', 'state'] as const,
      registers: [deps.registry],
    });
    this.transitions = new Counter({
      name: 'doris_hub_rollout_transitions_total',
      help: 'Rollout transitions (the reasons of their Events), by Fleet.',
      labelNames: ['fleet', 'reason'] as const,
      registers: [deps.registry],
    });
    deps.fleets.onEvent((event) => this.mark(event.type === 'upsert' ? event.fleet.metadata.name : event.name));
    deps.devices.onChange((name, device) => {
      const before = this.deviceFleet.get(name);
      if (device) this.deviceFleet.set(name, device.spec.fleet);
      else {
        this.deviceFleet.delete(name);
        this.stageWritten.delete(name);
      }
      if (before && before !== device?.spec.fleet) this.mark(before);
      if (device) this.mark(device.spec.fleet);
    });
  }

  /** The revision `device` is told to run: any replica, leader or not. FleetCache.targetFor delegates here. */
  targetFor(fleet: string, device: Device): Revision | undefined {
    return rolloutTarget(this.deps.fleets.get(fleet), device);
  }

  start(): void {
    this.stopped = false;
    this.resync = setInterval(() => this.markAll(), this.options.resyncMs);
    this.resync.unref();
    if (this.leading) this.markAll();
  }

  /** Stops stepping; waits for the step in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    this.clearTimers();
    await this.running;
  }

  /** Leadership won: step every Fleet from what is stored. Lost: stop stepping and forget what this replica wrote. */
  setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.written.clear();
    this.stageWritten.clear();
    this.deps.notices?.forget();
    if (leading) this.markAll();
    else {
      this.clearTimers();
      this.dirty.clear();
      this.stageDevices.reset();
      this.rolloutState.reset();
      this.series.clear();
    }
  }

  /** Runs every pending step now (tests; the loop otherwise runs after `debounceMs`). */
  async flush(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    await this.running;
    await this.drain();
    await this.settleStageWrites();
  }

  private clearTimers(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    for (const timer of this.wakes.values()) clearTimeout(timer);
    this.wakes.clear();
  }

  private markAll(): void {
    for (const fleet of this.deps.fleets.list()) this.mark(fleet.metadata.name);
  }

  private mark(fleet: string): void {
    if (this.stopped || !this.leading) return;
    this.dirty.add(fleet);
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.drain();
    }, this.options.debounceMs);
  }

  /** One loop at a time: Fleets marked while it runs are stepped by the same loop. */
  private drain(): Promise<void> {
    if (this.running) return this.running;
    // Cleared in a callback (always asynchronous), so never before it is set, even when the loop has nothing to do.
    const running = this.loop().finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private async loop(): Promise<void> {
    while (this.dirty.size > 0 && this.leading && !this.stopped && this.deps.fleets.hasSynced && this.deps.devices.hasSynced) {
      const fleets = [...this.dirty];
      this.dirty.clear();
      const devices = this.deps.devices.list();
      for (const name of fleets) {
        try {
          await this.stepFleet(name, devices);
        } catch (error) {
          this.deps.log.warn({ fleet: name, err: (error as Error).message }, 'rollout step failed; retrying at the next change or resync');
        }
      }
    }
  }

  private async stepFleet(name: string, allDevices: Device[]): Promise<void> {
    const fleet = this.deps.fleets.get(name);
    if (!fleet) {
      this.forget(name);
      return;
    }
    let policy: RolloutPolicy | undefined;
    try {
      policy = parseRolloutPolicy((fleet.spec as { rollout?: unknown } | undefined)?.rollout);
    } catch (error) {
      // The stages cannot be read: nothing moves (devices keep the last good revision) until it is fixed.
      const version = fleet.metadata.generation ?? fleet.metadata.resourceVersion ?? '';
      if (this.invalidReported.get(name) !== version) {
        this.invalidReported.set(name, version);
        void this.deps.events.record(this.subject(fleet), 'Warning', Reasons.InvalidSpec, (error as Error).message);
      }
      return;
    }
    this.invalidReported.delete(name);

    const stored = parseRolloutStatus(fleet.status?.rollout);
    if (!stored && fleet.status?.rollout !== undefined && !this.written.has(name) && !this.unreadableReported.has(name)) {
      this.unreadableReported.add(name);
      void this.deps.events.record(
        this.subject(fleet),
        'Warning',
        Reasons.InvalidSpec,
        'status.rollout could not be read (written by hand?): the rollout starts over from the newest revision',
      );
    }
    const state = this.written.get(name) ?? stored;
    const annotation = (fleet.metadata as { annotations?: Record<string, string> }).annotations?.[commandAnnotation];
    let command: RolloutCommand | undefined;
    let consumed: string | undefined;
    if (annotation !== undefined && commandKey(annotation) !== state?.lastCommand) {
      consumed = commandKey(annotation);
      if (commandPattern.test(annotation)) command = annotation.slice(0, annotation.indexOf('@')) as RolloutCommand;
      else
        void this.deps.events.record(
          this.subject(fleet),
          'Warning',
          Reasons.InvalidSpec,
          `annotation ${commandAnnotation}: ${JSON.stringify(annotation.slice(0, 80))} is not <promote|pause|resume|abort>@<time> (use doris fleet promote|pause|resume|abort)`,
        );
    }

    const devices = allDevices.filter((d) => d.spec.fleet === name);
    const now = this.options.now();
    const result = step({ policy, state, newest: fleet.status?.revision, devices: devices.map((d) => view(d, now.getTime())), now, command });
    // JSON-normalized, so that it compares equal to the same status read back from the API server.
    const next = result.state ? (JSON.parse(JSON.stringify(result.state)) as RolloutStatus) : undefined;
    if (next && consumed !== undefined) next.lastCommand = consumed;

    const countsOnly =
      next !== undefined && state !== undefined && result.transitions.length === 0 && isDeepStrictEqual(withoutCounts(next), withoutCounts(state));
    const countsDue = (this.countsWrittenAt.get(name) ?? 0) + this.options.countsEveryMs;
    if (next && !isDeepStrictEqual(next, state) && countsOnly && now.getTime() < countsDue) {
      this.setGauges(name, next);
      this.writeStages(devices, result.stageOf);
      this.scheduleWake(name, new Date(Math.min(countsDue, result.wakeAt?.getTime() ?? countsDue)));
      return;
    }
    const changed = next !== undefined && !isDeepStrictEqual(next, state);
    // Planned before the write, which records what is sent: a transition is sent once (notify.ts).
    const notices =
      changed && next && this.deps.notices
        ? await this.deps.notices.plan(fleet, { previous: state, next, transitions: result.transitions, devices, stageOf: result.stageOf, now })
        : undefined;
    // Leadership may have gone while this step ran: a follower writes nothing.
    if (!this.leading || this.stopped) return;
    if (next && changed) {
      const patch: Record<string, unknown> = { ...next };
      for (const key of optionalKeys) if (!(key in next)) patch[key] = null;
      if (notices) patch[notifiedField] = notices.notified;
      await this.deps.client.mergePatch(
        { apiVersion: hubApiVersion, kind: 'Fleet', namespace: this.deps.namespace, name },
        { status: { rollout: patch } },
        'status',
      );
      this.written.set(name, next);
      this.countsWrittenAt.set(name, now.getTime());
      for (const t of result.transitions) {
        this.transitions.inc({ fleet: name, reason: t.reason });
        this.deps.log.info({ fleet: name, reason: t.reason, stage: t.stage }, t.message);
        void this.deps.events.record(this.subject(fleet), t.type, t.reason, t.message);
      }
      if (notices) this.deps.notices?.sendAfterWrite(name, notices);
    }
    if (next) this.setGauges(name, next);
    this.writeStages(devices, result.stageOf);
    this.scheduleWake(name, result.wakeAt);
  }

  private subject(fleet: Fleet): EventSubject {
    return { apiVersion: hubApiVersion, kind: 'Fleet', metadata: fleet.metadata };
  }

  private forget(name: string): void {
    this.written.delete(name);
    this.deps.notices?.forget(name);
    this.countsWrittenAt.delete(name);
    this.invalidReported.delete(name);
    const timer = this.wakes.get(name);
    if (timer) clearTimeout(timer);
    this.wakes.delete(name);
    for (const key of this.series.get(name) ?? []) {
      const [stage, count] = JSON.parse(key) as [string, string];
      this.stageDevices.remove({ fleet: name, stage, count });
    }
    this.series.delete(name);
    for (const state of ['Progressing', 'Halted', 'Complete', 'Paused']) this.rolloutState.remove({ fleet: name, state });
  }

  private setGauges(fleet: string, state: RolloutStatus): void {
    const now = new Set<string>();
    for (const stage of state.stages) {
      for (const count of countKinds) {
        this.stageDevices.set({ fleet, stage: stage.name, count }, stage[count]);
        now.add(JSON.stringify([stage.name, count]));
      }
    }
    for (const key of this.series.get(fleet) ?? []) {
      if (now.has(key)) continue;
      const [stage, count] = JSON.parse(key) as [string, string];
      this.stageDevices.remove({ fleet, stage, count });
    }
    this.series.set(fleet, now);
    for (const s of ['Progressing', 'Halted', 'Complete', 'Paused']) this.rolloutState.set({ fleet, state: s }, s === state.state ? 1 : 0);
  }

  private scheduleWake(fleet: string, at: Date | undefined): void {
    const previous = this.wakes.get(fleet);
    if (previous) clearTimeout(previous);
    this.wakes.delete(fleet);
    if (!at) return;
    // Timers beyond ~24.8 days overflow; the resync covers anything that far.
    const delay = Math.min(Math.max(0, at.getTime() - this.options.now().getTime()) + 5, 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.wakes.delete(fleet);
      this.mark(fleet);
    }, delay);
    timer.unref();
    this.wakes.set(fleet, timer);
  }

  /** `Device.status.stage`, written only when it changed (null once no policy puts the device in a stage). */
  private writeStages(devices: Device[], stageOf: Map<string, string>): void {
    for (const device of devices) {
      const name = device.metadata.name;
      const want = stageOf.get(name) ?? '';
      const have = this.stageWritten.get(name) ?? device.status?.stage ?? '';
      if (want === have || this.stageWrites.has(name)) continue;
      this.stageWrites.add(name);
      this.stageQueue.push(async () => {
        try {
          const key = { apiVersion: hubApiVersion, kind: 'Device', namespace: this.deps.namespace, name };
          if (!this.leading || this.stopped) return;
          await this.deps.client.mergePatch(key, { status: { stage: want === '' ? null : want } }, 'status');
          this.stageWritten.set(name, want);
        } catch (error) {
          this.deps.log.warn({ device: name, err: (error as Error).message }, 'could not write the device stage');
        } finally {
          this.stageWrites.delete(name);
        }
      });
    }
    this.pumpStages();
  }

  private pumpStages(): void {
    while (this.stageActive < this.options.deviceWrites && this.stageQueue.length > 0) {
      const job = this.stageQueue.shift() as () => Promise<void>;
      this.stageActive++;
      void job().finally(() => {
        this.stageActive--;
        this.pumpStages();
        if (this.stageActive === 0 && this.stageQueue.length === 0) for (const done of this.stageDone.splice(0)) done();
      });
    }
  }

  private settleStageWrites(): Promise<void> {
    if (this.stageActive === 0 && this.stageQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.stageDone.push(resolve));
  }
}

/** What `lastCommand` records of a command annotation: itself, or a digest of an oversized one (status stays bounded). */
export function commandKey(annotation: string): string {
  return annotation.length <= 100 ? annotation : `sha256:${createHash('sha256').update(annotation).digest('hex')}`;
}

/** The status without what changes with every report (counts, and the message that quotes them). */
function withoutCounts(state: RolloutStatus): unknown {
  return {
    ...state,
    message: '',
    stages: state.stages.map(({ devices: _d, updated: _u, ready: _r, failed: _f, offline: _o, ...rest }) => rest),
  };
}

/** What the engine reads of a Device: labels, the report, and the last contact (`now` while connected: src/hub/presence.ts). */
export function view(device: Device, now = Date.now()): DeviceView {
  const lastSeen = effectiveLastSeen(device.status, now);
  const report = device.status?.report;
  return {
    name: device.metadata.name,
    labels: device.metadata.labels ?? {},
    ...(report ? { report: { revision: report.revision, ready: report.ready, reason: report.reason } } : {}),
    // No `servedRevision` (the engine could check a report against it): its writes are queued
    // behind presence writes, and waiting for them slowed a rollout of 10,000 agents from
    // 2.6 / 9.5 / 65 s per stage to 26 / 38 / 104 s (`npm run bench -- hub`).
    ...(lastSeen ? { lastSeen } : {}),
    // Connected: online with no clock running (no wake-up for its going offline).
    ...((device.status as { connected?: boolean } | undefined)?.connected === true ? { connected: true } : {}),
  };
}
