/**
 * What the fleet view shows, as plain data: the same shapes feed the HTML pages and the JSON
 * API (`/api/fleets...`). Built from the Fleet (status written by the upstream poller and the
 * rollout leader), the Devices of the hub's cache, and the Events this replica recorded.
 *
 * Everything a device wrote (report reason, message, agent version, image names) is data
 * here and stays data: the views escape it, the API returns it as JSON strings.
 */
import { type Device, type DeviceReport, type Fleet, fleetLabel, type ReportHistoryEntry, type Revision, type StageStatus } from '../../api/hub.js';
import type { ImageStatus } from '../../api/pipeline.js';
import type { DeviceState } from '../devices.js';
import { effectiveLastSeen } from '../presence.js';
import type { RolloutStatus } from '../rollout/engine.js';
import { formatAmount, implicitStageName, parseRolloutPolicy, type RolloutPolicy, type Selector, selects } from '../rollout/policy.js';
import { parseRolloutStatus, rolloutTarget, stageFor } from '../rollout/targets.js';
import type { FleetEvent } from './recent-events.js';
import { formatSelector } from './selector.js';
import { compareStrings } from '../../compare.js';

export const deviceStates: readonly DeviceState[] = ['ready', 'failed', 'offline', 'unknown'];

export type Counts = Record<DeviceState, number> & { total: number };

export interface RevisionRef {
  id: string;
  commit: string;
  createdAt: string;
  images: ImageStatus[];
}

export interface FleetSummary {
  name: string;
  git: { url?: string; branch?: string; path?: string };
  /** The newest revision resolved upstream. */
  revision?: RevisionRef;
  /** Where the staged rollout stands (absent: no policy, or not started). */
  rollout?: {
    state: RolloutStatus['state'];
    stage?: string;
    stageIndex: number;
    stages: number;
    message: string;
    revision?: RevisionRef;
    /** Each stage in one line: done, current or waiting, and how many of its online devices are ready. */
    brief: Array<{ name: string; phase: 'done' | 'current' | 'waiting'; ready: number; online: number }>;
  };
  /** Why the rollout policy cannot be read, if it cannot. */
  policyError?: string;
  devices: Counts;
  lastPolled?: string;
  /** The Fleet's Ready condition, when it is not True (upstream unreachable, a bad spec). */
  problem?: { reason: string; message: string };
}

/** A stage's status (one stage of all when there is no staged rollout), with its policy and revision spelled out. */
export interface StageView extends Omit<StageStatus, 'revision'> {
  /** `kubectl -l` spelling of the selector (the implicit last stage: devices no stage selects). */
  selector: string;
  minReady?: string;
  maxFailures?: string;
  soak?: string;
  revision?: RevisionRef;
  current: boolean;
  done: boolean;
}

export interface DeviceRow {
  name: string;
  state: DeviceState;
  stage?: string;
  labels: Record<string, string>;
  commit?: string;
  /** The revision the device reported, and whether it is the one it is told to run. */
  revision?: string;
  onTarget: boolean;
  ready?: string;
  reason?: string;
  message?: string;
  lastSeen?: string;
  connected: boolean;
}

export interface DevicePage {
  selector: string;
  state?: DeviceState;
  error?: string;
  /** Devices matching the filter. */
  matching: number;
  offset: number;
  limit: number;
  rows: DeviceRow[];
}

export interface FleetDetail extends FleetSummary {
  rolloutStatus?: RolloutStatus;
  autoRollback?: boolean;
  lastGood?: RevisionRef;
  stages: StageView[];
  revisions: Array<RevisionRef & { stages: string[]; newest: boolean }>;
  events: FleetEvent[];
  devicePage: DevicePage;
}

export interface DeviceDetail extends DeviceRow {
  fleet: string;
  report?: DeviceReport;
  reportedAt?: string;
  /** The last state changes, newest first. */
  history: ReportHistoryEntry[];
  servedBy?: string;
  servedRevision?: string;
  target?: RevisionRef;
  enrolledAt?: string;
}

const refOf = (r: Revision | undefined): RevisionRef | undefined =>
  r ? { id: r.id, commit: r.commit, createdAt: r.createdAt, images: r.images ?? [] } : undefined;

function revisionById(fleet: Fleet, id: string | undefined): RevisionRef | undefined {
  if (!id) return undefined;
  if (fleet.status?.revision?.id === id) return refOf(fleet.status.revision);
  const found = fleet.status?.revisions?.find((r) => r.id === id);
  return found ? refOf(found) : { id, commit: '', createdAt: '', images: [] };
}

function policyOf(fleet: Fleet): { policy?: RolloutPolicy; error?: string } {
  try {
    return { policy: parseRolloutPolicy((fleet.spec as { rollout?: unknown } | undefined)?.rollout) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function gitOf(fleet: Fleet): FleetSummary['git'] {
  const git = ((fleet.spec ?? {}) as { git?: { url?: unknown; branch?: unknown; path?: unknown } }).git ?? {};
  const text = (v: unknown, fallback?: string) => (typeof v === 'string' ? v : fallback);
  return { url: text(git.url), branch: text(git.branch, 'main'), path: text(git.path, 'deploy') };
}

export function countStates(devices: Device[], state: (d: Device) => DeviceState): Counts {
  const counts: Counts = { total: devices.length, ready: 0, failed: 0, offline: 0, unknown: 0 };
  for (const d of devices) counts[state(d)]++;
  return counts;
}

export function summarizeFleet(fleet: Fleet, devices: Device[], state: (d: Device) => DeviceState): FleetSummary {
  const rollout = parseRolloutStatus(fleet.status?.rollout);
  const { error } = policyOf(fleet);
  const ready = fleet.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: fleet.metadata.name,
    git: gitOf(fleet),
    revision: refOf(fleet.status?.revision),
    rollout: rollout && {
      state: rollout.state,
      stage: rollout.stage,
      stageIndex: rollout.stageIndex,
      stages: rollout.stages.length,
      message: rollout.message,
      revision: revisionById(fleet, rollout.revision),
      brief: rollout.stages.map((st, i) => ({
        name: st.name,
        phase: rollout.state === 'Complete' || i < rollout.stageIndex || st.completedAt ? 'done' : i === rollout.stageIndex ? 'current' : 'waiting',
        ready: st.ready,
        online: st.devices - st.offline,
      })),
    },
    policyError: error,
    devices: countStates(devices, state),
    lastPolled: fleet.status?.lastPolled,
    problem: ready && ready.status !== 'True' ? { reason: ready.reason, message: ready.message } : undefined,
  };
}

/** The stage a device is in: as the leader last wrote it, else as the policy's selectors say. */
export function stageOf(device: Device, policy: RolloutPolicy | undefined): string | undefined {
  if (device.status?.stage) return device.status.stage;
  return policy ? stageFor(policy, device.metadata.labels ?? {}) : undefined;
}

function stagesOf(
  fleet: Fleet,
  policy: RolloutPolicy | undefined,
  rollout: RolloutStatus | undefined,
  devices: Device[],
  state: (d: Device) => DeviceState,
): StageView[] {
  if (rollout) {
    return rollout.stages.map((s, i) => {
      const spec = policy?.stages.find((p) => p.name === s.name);
      return {
        name: s.name,
        selector: s.name === implicitStageName ? 'devices no other stage selects' : spec ? formatSelector(spec.selector) || '(every device)' : '',
        minReady: spec ? formatAmount(spec.minReady) : undefined,
        maxFailures: spec ? formatAmount(spec.maxFailures) : undefined,
        soak: spec?.soak,
        revision: revisionById(fleet, s.revision),
        devices: s.devices,
        updated: s.updated,
        ready: s.ready,
        failed: s.failed,
        offline: s.offline,
        startedAt: s.startedAt,
        readyAt: s.readyAt,
        completedAt: s.completedAt,
        skipped: s.skipped,
        current: rollout.state !== 'Complete' && i === rollout.stageIndex,
        done: Boolean(s.completedAt) || rollout.state === 'Complete' || i < rollout.stageIndex,
      };
    });
  }
  // No staged rollout: every device is told the newest revision at once; one stage of all.
  const newest = fleet.status?.revision;
  let updated = 0;
  let ready = 0;
  let failed = 0;
  let offline = 0;
  for (const d of devices) {
    const s = state(d);
    if (s === 'offline') {
      offline++;
      continue;
    }
    if (!newest || d.status?.report?.revision !== newest.id) continue;
    updated++;
    if (s === 'ready') ready++;
    if (s === 'failed') failed++;
  }
  return [
    {
      name: 'all devices',
      selector: '(no rollout policy: every device at once)',
      revision: refOf(newest),
      devices: devices.length,
      updated,
      ready,
      failed,
      offline,
      current: false,
      done: devices.length > 0 && ready === devices.length - offline,
    },
  ];
}

export interface DeviceQuery {
  selector?: Selector;
  selectorText: string;
  state?: DeviceState;
  error?: string;
  offset: number;
  limit: number;
}

export function deviceRow(fleet: Fleet | undefined, device: Device, policy: RolloutPolicy | undefined, state: DeviceState, now: number): DeviceRow {
  const report = device.status?.report;
  const target = fleet ? rolloutTarget(fleet, device) : undefined;
  const labels = { ...(device.metadata.labels ?? {}) };
  delete labels[fleetLabel];
  return {
    name: device.metadata.name,
    state,
    stage: stageOf(device, policy),
    labels,
    commit: report?.commit,
    revision: report?.revision,
    onTarget: target !== undefined && report?.revision === target.id,
    ready: report?.ready,
    reason: report?.reason,
    message: report?.message,
    lastSeen: effectiveLastSeen(device.status, now),
    connected: device.status?.connected === true,
  };
}

/** Devices matching the query, failed first, then by name; one page of them. */
export function pageDevices(fleet: Fleet, devices: Device[], state: (d: Device) => DeviceState, query: DeviceQuery, now: number): DevicePage {
  const { policy } = policyOf(fleet);
  const order: Record<DeviceState, number> = { failed: 0, offline: 1, unknown: 2, ready: 3 };
  const matching: Array<{ device: Device; state: DeviceState }> = [];
  if (!query.error) {
    for (const device of devices) {
      if (query.selector && !selects(query.selector, device.metadata.labels ?? {})) continue;
      const s = state(device);
      if (query.state && s !== query.state) continue;
      matching.push({ device, state: s });
    }
  }
  matching.sort((a, b) => order[a.state] - order[b.state] || compareStrings(a.device.metadata.name, b.device.metadata.name));
  const offset = Math.min(query.offset, Math.max(0, matching.length - 1));
  const shown = matching.slice(Math.max(0, offset), Math.max(0, offset) + query.limit);
  return {
    selector: query.selectorText,
    state: query.state,
    error: query.error,
    matching: matching.length,
    offset: Math.max(0, offset),
    limit: query.limit,
    rows: shown.map(({ device, state: s }) => deviceRow(fleet, device, policy, s, now)),
  };
}

export function fleetDetail(
  fleet: Fleet,
  devices: Device[],
  state: (d: Device) => DeviceState,
  events: FleetEvent[],
  query: DeviceQuery,
  now: number,
): FleetDetail {
  const { policy } = policyOf(fleet);
  const rollout = parseRolloutStatus(fleet.status?.rollout);
  const stages = stagesOf(fleet, policy, rollout, devices, state);
  const known = [...(fleet.status?.revision ? [fleet.status.revision] : []), ...(fleet.status?.revisions ?? [])];
  const seen = new Set<string>();
  const revisions: FleetDetail['revisions'] = [];
  for (const r of known) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    revisions.push({ ...refOf(r)!, newest: r.id === fleet.status?.revision?.id, stages: stages.filter((s) => s.revision?.id === r.id).map((s) => s.name) });
  }
  return {
    ...summarizeFleet(fleet, devices, state),
    rolloutStatus: rollout,
    autoRollback: policy?.autoRollback,
    lastGood: revisionById(fleet, rollout?.lastGood),
    stages,
    revisions,
    events,
    devicePage: pageDevices(fleet, devices, state, query, now),
  };
}

export function deviceDetail(fleet: Fleet | undefined, device: Device, state: DeviceState, now: number): DeviceDetail {
  const policy = fleet ? policyOf(fleet).policy : undefined;
  return {
    ...deviceRow(fleet, device, policy, state, now),
    fleet: device.spec.fleet,
    report: device.status?.report,
    reportedAt: device.status?.reportedAt,
    history: device.status?.history ?? [],
    servedBy: device.status?.servedBy,
    servedRevision: device.status?.servedRevision,
    target: fleet ? refOf(rolloutTarget(fleet, device)) : undefined,
    enrolledAt: device.metadata.creationTimestamp,
  };
}
