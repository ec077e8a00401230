/**
 * The enrolled devices, as this hub replica sees them: a watch of the Devices in the hub
 * namespace (so a Device deleted by anyone, on any replica, is refused here at once), who a
 * bearer token belongs to, enrollment, and what a device's contact writes.
 *
 * Writes only on change: a report equal to the stored one is not written; `lastSeen` (a
 * report or a poll) is written at most every `lastSeenEveryMs` per device; `servedRevision`
 * when the hub serves a device another revision than the one recorded. An idle fleet of
 * 10,000 devices then costs about 10,000 / 5 min = 33 writes a minute, and none per poll.
 *
 * Held per device: the name, labels, the Device's spec and status (bounded by the CRD's
 * schema), and two timestamps; everything else of the object (annotations, managed fields)
 * is dropped.
 */
import { isDeepStrictEqual } from 'node:util';
import { type Device, type DeviceReport, fleetLabel, hubApiVersion, offlineAfterMs } from '../api/hub.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../kube/object.js';
import type { Logger } from '../log.js';
import { HubRefusal } from './errors.js';
import { Informer, type InformerOptions, defaultInformerOptions } from './informer.js';
import { parseDeviceToken } from './protocol.js';
import { hashToken, newDeviceToken, tokenMatches } from './tokens.js';

export type DeviceState = 'ready' | 'failed' | 'offline' | 'unknown';

export interface DeviceRegistryOptions {
  informer: InformerOptions;
  /** `lastSeen` is written at most this often per device. */
  lastSeenEveryMs: number;
  now: () => number;
}

export function defaultDeviceRegistryOptions(): DeviceRegistryOptions {
  return { informer: defaultInformerOptions(), lastSeenEveryMs: 5 * 60_000, now: Date.now };
}

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
  /** When this replica last wrote `lastSeen` (or saw a contact), by device: the throttle's memory. */
  private readonly lastSeenWritten = new Map<string, number>();
  private readonly lastContact = new Map<string, number>();
  private readonly listeners: Array<(name: string, device: Device | undefined) => void> = [];
  /** Status writes in flight, by device: a poll does not start a second write of the same thing. */
  private readonly writing = new Set<string>();

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
          this.lastSeenWritten.delete(name);
          this.lastContact.delete(name);
        }
        for (const listener of this.listeners) listener(name, device);
      },
      options.informer,
    );
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
   * or malformed header, a device that is not (or no longer) enrolled, or a token that is not
   * the device's (it re-enrolled since).
   */
  authenticate(authorization: string | undefined): Device {
    if (!this.informer.hasSynced) throw new HubRefusal(503, 'not-ready', 'the hub is starting (its Device cache is not synced yet); try again');
    const match = /^Bearer ([\x21-\x7e]{1,600})$/.exec(authorization ?? '');
    const parsed = match ? parseDeviceToken(match[1]!) : undefined;
    if (!match || !parsed) throw new HubRefusal(401, 'unauthorized', 'missing or malformed device token (Authorization: Bearer <device>.<secret>)');
    const device = this.informer.get(parsed.device);
    if (!device) throw new HubRefusal(401, 'revoked', `device ${parsed.device} is not enrolled (never enrolled, or its Device was deleted: revoked)`);
    if (!tokenMatches(match[1]!, device.spec.tokenHash)) {
      throw new HubRefusal(401, 'revoked', `the token is not device ${parsed.device}'s (the device enrolled again since, or the token was revoked)`);
    }
    return device;
  }

  /** Whether `device` is still enrolled with the same token as when it was authenticated. */
  stillValid(device: Device): boolean {
    const current = this.informer.get(device.metadata.name);
    return current !== undefined && current.spec.tokenHash === device.spec.tokenHash;
  }

  /**
   * Creates the Device (or, for a name already enrolled, gives it a new token: the old one is
   * refused from now on) and returns its token, which the hub does not keep.
   */
  async enroll(name: string, fleet: string, labels: Record<string, string>): Promise<string> {
    const token = newDeviceToken(name);
    const spec = { fleet, tokenHash: hashToken(token) };
    const metadataLabels = { ...labels, [fleetLabel]: fleet };
    const key = { apiVersion: hubApiVersion, kind: 'Device', namespace: this.namespace, name };
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.client.get(key);
      try {
        const written = existing
          ? await this.client.replace({ ...existing, metadata: { ...existing.metadata, labels: metadataLabels }, spec })
          : await this.client.create({
              apiVersion: hubApiVersion,
              kind: 'Device',
              metadata: { name, namespace: this.namespace, labels: metadataLabels },
              spec,
            });
        // The device polls right after: it must not be refused while our own watch event is on its way.
        this.informer.set({ ...written, apiVersion: hubApiVersion, kind: 'Device' });
        this.log.info({ device: name, fleet, reenrolled: existing !== undefined }, 'device enrolled');
        return token;
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 409) continue;
        if (error instanceof KubeApiError && error.status === 422)
          throw new HubRefusal(400, 'bad-request', `the Device cannot be created: ${error.body?.message ?? error.message}`);
        throw error;
      }
    }
    throw new HubRefusal(503, 'not-ready', `device ${name} is being enrolled concurrently; try again`);
  }

  /** Stores a device's report when it changed (and `lastSeen` when due); true when anything was written. */
  async report(device: Device, report: DeviceReport): Promise<boolean> {
    const now = this.options.now();
    this.lastContact.set(device.metadata.name, now);
    const current = this.informer.get(device.metadata.name) ?? device;
    const changed = !sameReport(report, current.status?.report);
    if (!changed && !this.lastSeenDue(current, now)) return false;
    const stamp = new Date(now).toISOString();
    const status: Record<string, unknown> = { lastSeen: stamp };
    if (changed) Object.assign(status, { report: storedReport(report), reportedAt: stamp });
    return this.writeStatus(current, status, now);
  }

  /**
   * A poll: contact (for `lastSeen`), and the revision the device was just served (or already
   * holds). Writes only what is due; never waits for the write.
   */
  contact(device: Device, servedRevision: string | undefined): void {
    const now = this.options.now();
    this.lastContact.set(device.metadata.name, now);
    const current = this.informer.get(device.metadata.name) ?? device;
    const served = servedRevision !== undefined && current.status?.servedRevision !== servedRevision;
    const due = this.lastSeenDue(current, now);
    if (!served && !due) return;
    const status: Record<string, unknown> = {};
    if (served) status.servedRevision = servedRevision;
    if (due) status.lastSeen = new Date(now).toISOString();
    void this.writeStatus(current, status, now).catch(() => undefined);
  }

  private lastSeenDue(device: Device, now: number): boolean {
    const stored = device.status?.lastSeen ? Date.parse(device.status.lastSeen) : 0;
    const last = Math.max(Number.isNaN(stored) ? 0 : stored, this.lastSeenWritten.get(device.metadata.name) ?? 0);
    return now - last >= this.options.lastSeenEveryMs;
  }

  private async writeStatus(device: Device, status: Record<string, unknown>, now: number): Promise<boolean> {
    const name = device.metadata.name;
    const isReport = 'report' in status;
    // A poll's write may be skipped while another write of this device is in flight; a report's never is.
    if (!isReport && this.writing.has(name)) return false;
    this.writing.add(name);
    try {
      const written = await this.client.mergePatch({ apiVersion: hubApiVersion, kind: 'Device', namespace: this.namespace, name }, { status }, 'status');
      if ('lastSeen' in status) this.lastSeenWritten.set(name, now);
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
    }
  }

  /** A device's state for metrics and fleet views: offline once silent for `offlineAfterMs`. */
  state(device: Device, now = this.options.now()): DeviceState {
    const seen = device.status?.lastSeen ? Date.parse(device.status.lastSeen) : Date.parse(device.metadata.creationTimestamp ?? '');
    const last = Math.max(Number.isNaN(seen) ? 0 : seen, this.lastContact.get(device.metadata.name) ?? 0);
    if (now - last > offlineAfterMs) return 'offline';
    const ready = device.status?.report?.ready;
    return ready === 'True' ? 'ready' : ready === 'False' ? 'failed' : 'unknown';
  }

  /** Devices by state (every state present, zero or not). */
  countByState(): Record<DeviceState, number> {
    const counts: Record<DeviceState, number> = { ready: 0, failed: 0, offline: 0, unknown: 0 };
    const now = this.options.now();
    for (const device of this.informer.values()) counts[this.state(device, now)]++;
    return counts;
  }
}

/** Device state as computed outside a hub (the CLI), from the stored `lastSeen` only. */
export function storedDeviceState(device: Device, now = Date.now()): DeviceState {
  const seen = Date.parse(device.status?.lastSeen ?? device.metadata.creationTimestamp ?? '');
  if (Number.isNaN(seen) || now - seen > offlineAfterMs) return 'offline';
  const ready = device.status?.report?.ready;
  return ready === 'True' ? 'ready' : ready === 'False' ? 'failed' : 'unknown';
}
