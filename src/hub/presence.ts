/**
 * Presence: whether a device is connected to the hub, written only when that changes.
 *
 * A device holds a long-poll on some replica almost all the time, so the replica holding it
 * knows it is there without any write. The Device's status records the change, never the
 * heartbeat:
 *
 * - `connected: true, servedBy: <replica>, lastSeen: <when it connected>` — written by the
 *   replica a device contacts when the stored status does not already say "connected here"
 *   (a first contact, a reconnect after a disconnect, a move to another replica);
 * - `connected: false, lastSeen: <last contact>` — written by the replica the status names
 *   once the device has held no poll there and made no request for `graceMs` (longer than an
 *   agent's longest backoff, so a reconnecting agent does not flap), or by the leader for the
 *   devices of a replica whose heartbeat Lease ran out (that replica died) and that have not
 *   reconnected elsewhere within the grace.
 *
 * The offline rule reads the same for everyone (the hub's metrics, the rollout engine,
 * `doris fleet devices`): a connected device is online; a disconnected one is offline once
 * `offlineAfterMs` has passed since `lastSeen`. A Device without `connected` (written by an
 * older hub) follows the old rule: offline `offlineAfterMs` after `lastSeen`.
 *
 * Everything here is plain data and a clock: the writes are devices.ts's.
 */
import { type DeviceStatus, offlineAfterMs } from '../api/hub.js';

export interface PresenceOptions {
  /** This replica's identity (what `servedBy` names). */
  replica: string;
  /** How long a device may be away from its replica before it is written disconnected. */
  graceMs: number;
}

/** What a replica knows of one device without asking anyone. */
export interface LocalContact {
  /** Long-polls of the device this replica holds now. */
  open: number;
  /** The end of its last request here (ms), or when this replica started when it never saw one. */
  lastContact: number;
}

/** A status patch of presence fields only. */
export type PresencePatch = Pick<DeviceStatus, 'connected' | 'servedBy' | 'lastSeen'>;

const iso = (ms: number) => new Date(ms).toISOString();

/** The write that records a contact with `replica` at `now`, or undefined when the stored status already says so. */
export function connectPatch(status: DeviceStatus | undefined, replica: string, now: number): PresencePatch | undefined {
  if (status?.connected === true && status.servedBy === replica) return undefined;
  return { connected: true, servedBy: replica, lastSeen: iso(now) };
}

/** The write that records that a device this replica serves went away, or undefined (not ours, still here, or within the grace). */
export function disconnectPatch(status: DeviceStatus | undefined, local: LocalContact, options: PresenceOptions, now: number): PresencePatch | undefined {
  if (status?.connected !== true || status.servedBy !== options.replica) return undefined;
  if (local.open > 0 || now - local.lastContact <= options.graceMs) return undefined;
  return { connected: false, lastSeen: iso(local.lastContact) };
}

/** A replica's heartbeat as its Lease says: last renewal and duration (ms). */
export interface ReplicaBeat {
  renewedAt: number;
  durationMs: number;
}

/**
 * The leader's write for a device left connected by a replica that is gone (its Lease ran out,
 * or there is none), once the grace for reconnecting elsewhere has passed; undefined otherwise.
 */
export function orphanPatch(
  status: DeviceStatus | undefined,
  replicas: ReadonlyMap<string, ReplicaBeat>,
  graceMs: number,
  now: number,
): PresencePatch | undefined {
  if (status?.connected !== true) return undefined;
  const since = Date.parse(status.lastSeen ?? '');
  // No heartbeat known (its Lease deleted, or created after the leader listed them): the
  // last proof of life is the connect itself.
  const beat = (status.servedBy ? replicas.get(status.servedBy) : undefined) ?? { renewedAt: Number.isNaN(since) ? now : since, durationMs: 0 };
  if (now - beat.renewedAt <= beat.durationMs + graceMs) return undefined;
  return { connected: false, lastSeen: iso(beat.renewedAt) };
}

/** Whether a device counts as offline at `now`, from its stored status (and creation time when it was never seen). */
export function isOffline(status: DeviceStatus | undefined, creationTimestamp: string | undefined, now: number): boolean {
  if (status?.connected === true) return false;
  const seen = Date.parse(effectiveLastSeen(status, now) ?? creationTimestamp ?? '');
  return Number.isNaN(seen) || now - seen > offlineAfterMs;
}

/**
 * The last contact as a reader without the replica's memory can tell it: `now` while connected,
 * else the later of `lastSeen` and `reportedAt` (undefined: never seen).
 */
export function effectiveLastSeen(status: DeviceStatus | undefined, now: number): string | undefined {
  if (status?.connected === true) return iso(now);
  const times = [status?.lastSeen, status?.reportedAt].filter((t): t is string => typeof t === 'string' && !Number.isNaN(Date.parse(t)));
  return times.sort((a, b) => Date.parse(b) - Date.parse(a))[0];
}
