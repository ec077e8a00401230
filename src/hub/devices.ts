/**
 * The enrolled devices, as this hub replica sees them: a watch of the Devices in the hub
 * namespace (so a Device deleted by anyone, on any replica, is refused here at once), who a
 * bearer token belongs to, enrollment, and what a device's contact writes.
 *
 * Writes only on change: a report equal to the stored one is not written, and one device's
 * reports are written one at a time, at most one per `reportIntervalMs` (reports arriving
 * meanwhile are merged, the newest wins: a device cannot queue writes in the shared pool); presence
 * (`connected`, `servedBy`, `lastSeen`: src/hub/presence.ts) when a device connects here or
 * has been gone past the grace; `servedRevision` when the hub serves a device another
 * revision than the one recorded. An idle fleet writes no Device at all: a poll costs nothing
 * but memory, and the replica's heartbeat Lease (one write per period) vouches for all its
 * devices.
 *
 * Held per device: the name, labels, the Device's spec and status (bounded by the CRD's
 * schema), and two timestamps; everything else of the object (annotations, managed fields)
 * is dropped.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  type Device,
  type DeviceReport,
  type DeviceStatus,
  fleetLabel,
  hubApiVersion,
  maxDeviceHistory,
  offlineAfterMs,
  type ReportHistoryEntry,
} from '../api/hub.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../kube/object.js';
import type { Logger } from '../log.js';
import { HubRefusal } from './errors.js';
import { Informer, type InformerOptions, defaultInformerOptions } from './informer.js';
import { type LocalContact, type PresencePatch, type ReplicaBeat, connectPatch, disconnectPatch, isOffline, orphanPatch } from './presence.js';
import { parseDeviceToken } from './protocol.js';
import { hashToken, newDeviceToken, tokenMatches } from './tokens.js';

export type DeviceState = 'ready' | 'failed' | 'offline' | 'unknown';

export interface DeviceRegistryOptions {
  informer: InformerOptions;
  /** This replica's identity: what `status.servedBy` names. */
  replica: string;
  /**
   * How long a device may hold no poll here and make no request before it is written
   * disconnected: longer than an agent's longest retry (backoff up to 2 minutes, Retry-After
   * up to 15 s), so that a reconnecting agent does not flap.
   */
  disconnectGraceMs: number;
  /** Connect and servedRevision writes in flight at once (10,000 agents reconnecting to a new replica queue up). */
  maxContactWrites: number;
  /** Least time between the end of one report write of a device and the start of its next. */
  reportIntervalMs: number;
  now: () => number;
}

export function defaultDeviceRegistryOptions(): DeviceRegistryOptions {
  return { informer: defaultInformerOptions(), replica: 'hub', disconnectGraceMs: 3 * 60_000, maxContactWrites: 16, reportIntervalMs: 1000, now: Date.now };
}

/** One device's report waiting for its write (the newest wins), and the requests waiting for that write. */
interface ReportQueue {
  device: Device;
  report?: DeviceReport;
  receivedAt: number;
  waiters: Array<{ resolve: (written: boolean) => void; reject: (error: unknown) => void }>;
  writing?: Promise<void>;
  timer?: NodeJS.Timeout;
  lastWriteAt: number;
}

/** What a refused device token is told, whichever way it is wrong: the answer must not say which device names exist. */
const refusedToken = 'the device token is not valid: no Device holds it (the Device was deleted, which revokes its token, or was never enrolled)';
/** Compared against when the token names no Device, so that both refusals take the same time. */
const noHash = `sha256:${'0'.repeat(64)}`;

/** What is held of a Device. */
function keep(object: KubeObject): Device {
  const o = object as unknown as Device;
  const { name, namespace, uid, resourceVersion, labels, creationTimestamp } = o.metadata;
  return {
    apiVersion: hubApiVersion,
    kind: 'Device',
    metadata: { name, namespace, uid, resourceVersion, labels, creationTimestamp },
    spec: { fleet: String(o.spec?.fleet ?? ''), tokenHash: String(o.spec?.tokenHash ?? '') },
    status: o.status,
  };
}

const reportKeys = ['revision', 'commit', 'ready', 'reason', 'message', 'counts', 'images', 'agentVersion'] as const;

/** The history after `report`: a new entry only when the state (revision, Ready, reason) changed. */
export function nextHistory(status: DeviceStatus | undefined, report: DeviceReport, at: string): ReportHistoryEntry[] {
  const history = status?.history ?? [];
  const last = history[0];
  if (last && last.revision === report.revision && last.ready === report.ready && last.reason === report.reason) return history;
  const entry: ReportHistoryEntry = {
    at,
    ready: report.ready,
    reason: report.reason,
    ...(report.revision ? { revision: report.revision } : {}),
    ...(report.commit ? { commit: report.commit } : {}),
  };
  return [entry, ...history].slice(0, maxDeviceHistory);
}

/** The report as stored: every key present (null when absent), so a merge patch also clears what the device no longer reports. */
function storedReport(report: DeviceReport): Record<string, unknown> {
  return Object.fromEntries(reportKeys.map((k) => [k, report[k] ?? null]));
}

function sameReport(a: DeviceReport, b: DeviceReport | undefined): boolean {
  if (!b) return false;
  const norm = (r: DeviceReport) => Object.fromEntries(reportKeys.map((k) => [k, k === 'images' ? (r.images ?? []) : (r[k] ?? null)]));
  return isDeepStrictEqual(norm(a), norm(b));
}

export class DeviceRegistry {
  private readonly informer: Informer<Device>;
  /** What this replica knows of each device it saw: open polls, last contact. */
  private readonly local = new Map<string, LocalContact>();
  private readonly startedAt: number;
  private readonly listeners: Array<(name: string, device: Device | undefined) => void> = [];
  /** Status writes in flight, by device: a poll does not start a second write of the same thing. */
  private readonly writing = new Set<string>();
  /** Contacts waiting for their write, by device (merged: one write however many polls came meanwhile). */
  private readonly contacts = new Map<string, { at: number; servedRevision?: string }>();
  private contactWrites = 0;
  private readonly reports = new Map<string, ReportQueue>();
  private stopping = false;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly log: Logger,
    private readonly options: DeviceRegistryOptions = defaultDeviceRegistryOptions(),
  ) {
    this.informer = new Informer<Device>(
      client,
      hubApiVersion,
      'Device',
      namespace,
      log,
      keep,
      (name, device) => {
        if (!device) {
          this.local.delete(name);
          this.reports.delete(name);
        }
        for (const listener of this.listeners) listener(name, device);
      },
      options.informer,
    );
    this.startedAt = options.now();
  }

  start(): void {
    this.informer.start();
  }

  /** Stops the watch once the reports still waiting out their interval are written (their agents wait for the answer). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const [name, queue] of this.reports) {
      if (!queue.timer) continue;
      clearTimeout(queue.timer);
      queue.timer = undefined;
      this.pumpReport(name, queue);
    }
    // A write that ends with another report queued starts that one at once (stopping): wait for both.
    for (let writes = this.reportWrites(); writes.length > 0; writes = this.reportWrites()) await Promise.all(writes);
    await this.informer.stop();
  }

  private reportWrites(): Array<Promise<void>> {
    return [...this.reports.values()].flatMap((q) => (q.writing ? [q.writing] : []));
  }

  get hasSynced(): boolean {
    return this.informer.hasSynced;
  }

  get(name: string): Device | undefined {
    return this.informer.get(name);
  }

  list(): Device[] {
    return [...this.informer.values()];
  }

  /** Called after every change of a Device (undefined: deleted), e.g. to answer its open long-polls. */
  onChange(listener: (name: string, device: Device | undefined) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The Device an `Authorization: Bearer <device token>` header belongs to. 401 for a missing
   * or malformed header, and the same 401 for a device that is not (or no longer) enrolled and
   * for a token that is not the device's.
   */
  authenticate(authorization: string | undefined): Device {
    if (!this.informer.hasSynced) throw new HubRefusal(503, 'not-ready', 'the hub is starting (its Device cache is not synced yet); try again');
    const match = /^Bearer ([\x21-\x7e]{1,600})$/.exec(authorization ?? '');
    const parsed = match ? parseDeviceToken(match[1]!) : undefined;
    if (!match || !parsed) throw new HubRefusal(401, 'unauthorized', 'missing or malformed device token (Authorization: Bearer <device>.<secret>)');
    const device = this.informer.get(parsed.device);
    const matches = tokenMatches(match[1]!, device?.spec.tokenHash ?? noHash);
    if (!device || !matches) throw new HubRefusal(401, 'revoked', refusedToken);
    return device;
  }

  /** Whether `device` is still enrolled with the same token as when it was authenticated. */
  stillValid(device: Device): boolean {
    const current = this.informer.get(device.metadata.name);
    return current !== undefined && current.spec.tokenHash === device.spec.tokenHash;
  }

  /**
   * Creates the Device and returns its token, which the hub does not keep. A name already
   * enrolled is refused (409), in any Fleet: an enrollment token is shared by many devices, and
   * whoever holds one must not take over a device that is enrolled (its token, Fleet and
   * labels). A reinstalled device that lost its token enrolls again once an operator deleted its
   * Device.
   */
  async enroll(name: string, fleet: string, labels: Record<string, string>): Promise<string> {
    const token = newDeviceToken(name);
    let written: KubeObject;
    try {
      written = await this.client.create({
        apiVersion: hubApiVersion,
        kind: 'Device',
        metadata: { name, namespace: this.namespace, labels: { ...labels, [fleetLabel]: fleet } },
        spec: { fleet, tokenHash: hashToken(token) },
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) throw await this.alreadyEnrolled(name, fleet);
      if (error instanceof KubeApiError && error.status === 422)
        throw new HubRefusal(400, 'bad-request', `the Device cannot be created: ${error.body?.message ?? error.message}`);
      throw error;
    }
    // The device polls right after: it must not be refused while our own watch event is on its way.
    this.informer.set({ ...written, apiVersion: hubApiVersion, kind: 'Device' });
    this.log.info({ device: name, fleet }, 'device enrolled');
    return token;
  }

  private async alreadyEnrolled(name: string, fleet: string): Promise<HubRefusal> {
    const key = { apiVersion: hubApiVersion, kind: 'Device', namespace: this.namespace, name };
    const existing = this.informer.get(name) ?? ((await this.client.get(key).catch(() => undefined)) as Device | undefined);
    const owner = existing?.spec?.fleet;
    const remedy = `an operator deletes it first (kubectl -n ${this.namespace} delete device ${name}; this revokes its token), then the device enrolls again`;
    const message =
      owner && owner !== fleet
        ? `device ${name} is already enrolled in Fleet ${owner}: a device belongs to one Fleet; to move it to ${fleet}, ${remedy}`
        : `device ${name} is already enrolled${owner ? ` in Fleet ${owner}` : ''}: if it was reinstalled and lost its token, ${remedy}; otherwise choose another --device-name`;
    return new HubRefusal(409, 'enrollment-refused', message);
  }

  /**
   * Stores a device's report when it changed (with its presence when that changed too); true
   * when it was written. One report write per device at a time, and at most one per
   * `reportIntervalMs`: a report arriving meanwhile waits, merged with any later one (the newest
   * wins), and its caller learns the outcome of the write that carries it.
   */
  report(device: Device, report: DeviceReport): Promise<boolean> {
    const name = device.metadata.name;
    const now = this.options.now();
    this.touch(name, now, 0);
    let queue = this.reports.get(name);
    const idle = !queue || (!queue.writing && !queue.timer && !queue.report);
    // What changes nothing waits for nothing; behind a queued report it must still replace that one (the newest wins).
    if (idle && !this.statusFor(this.informer.get(name) ?? device, report, now)) return Promise.resolve(false);
    if (!queue) {
      queue = { device, receivedAt: now, waiters: [], lastWriteAt: Number.NEGATIVE_INFINITY };
      this.reports.set(name, queue);
    }
    Object.assign(queue, { device, report, receivedAt: now });
    const written = new Promise<boolean>((resolve, reject) => queue.waiters.push({ resolve, reject }));
    this.pumpReport(name, queue);
    return written;
  }

  /**
   * Writes the queued report of a device, unless one is being written or its interval has not
   * passed (`due`: its timer says it has; a stopping registry waits no more).
   */
  private pumpReport(name: string, queue: ReportQueue, due = false): void {
    if (queue.writing || queue.timer || !queue.report) return;
    const wait = queue.lastWriteAt + this.options.reportIntervalMs - this.options.now();
    if (wait > 0 && !due && !this.stopping) {
      queue.timer = setTimeout(() => {
        queue.timer = undefined;
        this.pumpReport(name, queue, true);
      }, wait);
      return;
    }
    const { device, report, receivedAt, waiters } = queue;
    queue.report = undefined;
    queue.waiters = [];
    queue.writing = (async () => {
      try {
        const written = await this.writeReport(device, report, receivedAt);
        if (written) queue.lastWriteAt = this.options.now();
        for (const waiter of waiters) waiter.resolve(written);
      } catch (error) {
        queue.lastWriteAt = this.options.now();
        for (const waiter of waiters) waiter.reject(error);
      } finally {
        queue.writing = undefined;
        this.pumpReport(name, queue);
      }
    })();
  }

  private async writeReport(device: Device, report: DeviceReport, now: number): Promise<boolean> {
    const current = this.informer.get(device.metadata.name) ?? device;
    const status = this.statusFor(current, report, now);
    return status ? this.writeStatus(current, status) : false;
  }

  /** The status patch that stores `report` (and presence, when that changed too); undefined when nothing changed. */
  private statusFor(current: Device, report: DeviceReport, now: number): Record<string, unknown> | undefined {
    const changed = !sameReport(report, current.status?.report);
    const presence = connectPatch(current.status, this.options.replica, now);
    if (!changed && !presence) return undefined;
    const status: Record<string, unknown> = { ...presence };
    if (changed) {
      const at = new Date(now).toISOString();
      Object.assign(status, { report: storedReport(report), reportedAt: at, history: nextHistory(current.status, report, at) });
    }
    return status;
  }

  /**
   * A poll's start or end: contact here (presence), and the revision the device was just served
   * (or already holds). Writes only what changed; never waits for the write.
   */
  contact(device: Device, servedRevision: string | undefined): void {
    const now = this.options.now();
    this.touch(device.metadata.name, now, 0);
    const name = device.metadata.name;
    const current = this.informer.get(name) ?? device;
    const served = servedRevision !== undefined && current.status?.servedRevision !== servedRevision;
    if (!served && !connectPatch(current.status, this.options.replica, now)) return;
    const queued = this.contacts.get(name);
    this.contacts.set(name, { at: queued?.at ?? now, servedRevision: servedRevision ?? queued?.servedRevision });
    this.pumpContacts();
  }

  /** Writes queued contacts, a bounded number at a time, each from the Device as cached when its turn comes. */
  private pumpContacts(): void {
    for (const [name, contact] of this.contacts) {
      if (this.contactWrites >= this.options.maxContactWrites) return;
      // A report of this device is being written: its turn comes when that is done.
      if (this.writing.has(name)) continue;
      this.contacts.delete(name);
      const current = this.informer.get(name);
      if (!current) continue;
      const status: Record<string, unknown> = { ...connectPatch(current.status, this.options.replica, contact.at) };
      if (contact.servedRevision !== undefined && current.status?.servedRevision !== contact.servedRevision) status.servedRevision = contact.servedRevision;
      if (Object.keys(status).length === 0) continue;
      this.contactWrites++;
      void this.writeStatus(current, status)
        .catch(() => undefined)
        .finally(() => {
          this.contactWrites--;
          this.pumpContacts();
        });
    }
  }

  /** A long-poll of the device opened here (+1) or ended (-1): while one is open, the device is connected. */
  held(name: string, delta: 1 | -1): void {
    this.touch(name, this.options.now(), delta);
  }

  private touch(name: string, now: number, delta: number): void {
    // A poll of a Device deleted meanwhile ends here: nothing to remember of it.
    if (!this.informer.get(name)) return;
    const entry = this.local.get(name) ?? { open: 0, lastContact: now };
    entry.open = Math.max(0, entry.open + delta);
    entry.lastContact = now;
    this.local.set(name, entry);
  }

  /**
   * Writes what changed in presence since the last sweep: devices connected here that went
   * away past the grace, devices here whose connect write was skipped or failed, and, when
   * `replicas` is given (the leader), devices left connected by a replica that is gone.
   * Returns how many Devices were written.
   */
  async sweep(replicas?: ReadonlyMap<string, ReplicaBeat>): Promise<number> {
    const now = this.options.now();
    const { replica, disconnectGraceMs } = this.options;
    let written = 0;
    for (const name of [...this.informer.values()].map((d) => d.metadata.name)) {
      // Read each Device when its turn comes: the writes before it take time, and a device that
      // connected meanwhile must not be written connected a second time.
      const device = this.informer.get(name);
      if (!device) continue;
      const local = this.local.get(name);
      let patch: PresencePatch | undefined;
      let conditional = true;
      if (local && (local.open > 0 || now - local.lastContact <= disconnectGraceMs)) {
        // Only a connect write that was skipped or failed is caught up: a device stored as
        // connected elsewhere moved there (its new replica wrote that), it is not taken back.
        if (local.open > 0 && device.status?.connected !== true) patch = connectPatch(device.status, replica, now);
        conditional = false;
      } else {
        // Never seen here since this replica started: it had until start + grace to come back.
        patch = disconnectPatch(device.status, local ?? { open: 0, lastContact: this.startedAt }, { replica, graceMs: disconnectGraceMs }, now);
        if (!patch && replicas && device.status?.servedBy !== replica) patch = orphanPatch(device.status, replicas, disconnectGraceMs, now);
      }
      if (!patch) continue;
      // A disconnect is conditional on the Device being as read: a replica that connected it meanwhile wins.
      const ok = await this.writeStatus(device, { ...patch }, conditional ? device.metadata.resourceVersion : undefined).catch(() => false);
      if (ok) written++;
      if (ok && patch.connected === false) this.log.info({ device: name, lastSeen: patch.lastSeen, servedBy: device.status?.servedBy }, 'device disconnected');
    }
    return written;
  }

  private async writeStatus(device: Device, status: Record<string, unknown>, precondition?: string): Promise<boolean> {
    const name = device.metadata.name;
    const isReport = 'report' in status;
    // A poll's write may be skipped while another write of this device is in flight; a report's never is.
    if (!isReport && this.writing.has(name)) return false;
    this.writing.add(name);
    try {
      const key = { apiVersion: hubApiVersion, kind: 'Device', namespace: this.namespace, name };
      const patch = precondition ? { metadata: { resourceVersion: precondition }, status } : { status };
      let written: KubeObject;
      try {
        written = await this.client.mergePatch(key, patch, 'status');
      } catch (error) {
        if (precondition && error instanceof KubeApiError && error.status === 409) return false;
        throw error;
      }
      // Only while the device is still the one written: a delete in between must stay a delete.
      if (this.informer.get(name)?.metadata.uid === (written.metadata?.uid as string | undefined)) {
        this.informer.set({ ...written, apiVersion: hubApiVersion, kind: 'Device' });
      }
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) throw new HubRefusal(401, 'revoked', `device ${name} was deleted (revoked)`);
      this.log.warn({ device: name, err: (error as Error).message }, 'could not write the device status');
      throw error;
    } finally {
      this.writing.delete(name);
      if (this.contacts.has(name)) queueMicrotask(() => this.pumpContacts());
    }
  }

  /** A device's state for metrics: the stored rule, or online while this replica sees it. */
  state(device: Device, now = this.options.now()): DeviceState {
    const local = this.local.get(device.metadata.name);
    const here = local !== undefined && (local.open > 0 || now - local.lastContact <= offlineAfterMs);
    return here ? readiness(device) : storedDeviceState(device, now);
  }

  /** Devices by state (every state present, zero or not). */
  countByState(): Record<DeviceState, number> {
    const counts: Record<DeviceState, number> = { ready: 0, failed: 0, offline: 0, unknown: 0 };
    const now = this.options.now();
    for (const device of this.informer.values()) counts[this.state(device, now)]++;
    return counts;
  }
}

function readiness(device: Device): DeviceState {
  const ready = device.status?.report?.ready;
  return ready === 'True' ? 'ready' : ready === 'False' ? 'failed' : 'unknown';
}

/** Device state from the stored status alone (the CLI; the same rule as the rollout engine's): src/hub/presence.ts. */
export function storedDeviceState(device: Device, now = Date.now()): DeviceState {
  return isOffline(device.status, device.metadata.creationTimestamp, now) ? 'offline' : readiness(device);
}
