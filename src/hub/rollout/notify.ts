/**
 * Telling people about a Fleet's rollout: the transitions a human must know about — a halt
 * (with the failing stage, its counts and what a few failing devices reported), a rollback,
 * an abort, and a completion that rolled something out — go to the Fleet's `spec.notify`
 * receivers, in the formats and with the delivery of a Pipeline's (src/notify/**).
 *
 * Each transition is sent once. Its key is the rollout's revision, the transition and its
 * stage (`r-…/RolloutHalted/canary`); the keys sent are written with the status write that
 * records the transition (`status.rollout.notified`), and sending starts only once that write
 * succeeded. A new leader reads the keys fresh from the API server before its first send for a
 * Fleet (its cache may lag the old leader's last write), so a handover does not repeat them.
 * `resume` and `promote` clear the failure keys of the revision: a stage that halts again
 * after a human retried it is news. Keys of older revisions are dropped.
 *
 * `planNotices` is pure; `FleetNotifier` wraps it for the driver, which never waits on a
 * receiver: delivery runs in the background (Notifier), and nothing here fails a step.
 */
import { type Device, type Fleet, hubApiVersion, type Revision } from '../../api/hub.js';
import { type NotifyReceiver, notifySchema } from '../../api/notify.js';
import type { PipelineSpec } from '../../api/pipeline.js';
import { RolloutReasons } from '../../api/reasons.js';
import type { KubeClient } from '../../kube/client.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../../notify/dispatcher.js';
import { type FleetNotice, type Notification, type NotificationKind, NotificationKinds } from '../../notify/types.js';
import type { RolloutStatus, Transition } from './engine.js';

/** The key of `status.rollout` holding what was sent. */
export const notifiedField = 'notified';
/** Failing devices quoted in a notification. */
export const quotedFailures = 5;
const maxKeys = 16;
const maxMessage = 300;

const kinds: Partial<Record<string, NotificationKind>> = {
  [RolloutReasons.RolloutHalted]: NotificationKinds.RolloutHalted,
  [RolloutReasons.RolledBack]: NotificationKinds.RolledBack,
  [RolloutReasons.RolloutAborted]: NotificationKinds.RolloutAborted,
  [RolloutReasons.RolloutCompleted]: NotificationKinds.RolloutCompleted,
};

const failureReasons = new Set<string>([RolloutReasons.RolloutHalted, RolloutReasons.RolledBack, RolloutReasons.RolloutAborted]);
/** Transitions after which a failure of the same revision is news again (a human acted). */
const retried = new Set<string>([RolloutReasons.RolloutResumed, RolloutReasons.StagePromoted]);
/** What a device reports while not done: not a failure (as in engine.ts). */
const notFailures = new Set(['Progressing', 'Interrupted', 'Suspended']);

export interface NoticeInput {
  fleet: { namespace: string; name: string };
  /** `status.rollout` before the step (undefined: none yet). */
  previous: RolloutStatus | undefined;
  next: RolloutStatus;
  transitions: readonly Transition[];
  /** Keys already sent for this Fleet. */
  notified: readonly string[];
  /** The revisions the Fleet's status holds (to name a revision's commit and digests). */
  revisions: readonly Revision[];
  /** The Fleet's devices, and the stage each is in. */
  devices: ReadonlyArray<Pick<Device, 'metadata' | 'status'>>;
  stageOf: ReadonlyMap<string, string>;
  now: Date;
}

export interface NoticePlan {
  notifications: Notification[];
  /** What `status.rollout.notified` becomes. */
  notified: string[];
}

export function noticeKey(revision: string, reason: string, stage?: string): string {
  return `${revision}/${reason}${stage ? `/${stage}` : ''}`;
}

/** `status.rollout.notified` as stored (anything else reads as nothing sent). */
export function storedNotified(rollout: unknown): string[] {
  const value = (rollout as Record<string, unknown> | undefined)?.[notifiedField];
  return Array.isArray(value) ? value.filter((k): k is string => typeof k === 'string').slice(-maxKeys) : [];
}

function clip(text: string): string {
  return text.length > maxMessage ? `${text.slice(0, maxMessage - 1)}…` : text;
}

/** Which transitions of one step are sent, and what each says. Pure. */
export function planNotices(input: NoticeInput): NoticePlan {
  const { previous, next } = input;
  const notified = [...input.notified];
  const notifications: Notification[] = [];
  // The revision a transition is about: a command acts on the rollout as it stood, a newer revision then supersedes it.
  let revision = previous?.revision ?? next.revision;
  for (const t of input.transitions) {
    if (t.reason === RolloutReasons.RolloutStarted) revision = next.revision;
    if (retried.has(t.reason) || t.reason === RolloutReasons.RolloutStarted) {
      for (let i = notified.length - 1; i >= 0; i--) {
        const [id, reason] = (notified[i] as string).split('/');
        if (id === revision && reason && failureReasons.has(reason)) notified.splice(i, 1);
      }
    }
    const kind = kinds[t.reason];
    if (!kind) continue;
    // A completion is news only when something rolled out: not the first revision taken as
    // rolled out, not a revision every device already had, not a Fleet without devices.
    if (t.reason === RolloutReasons.RolloutCompleted && (!previous || previous.lastGood === next.revision || input.devices.length === 0)) continue;
    const stage = t.stage ?? (t.reason === RolloutReasons.RolloutAborted ? (previous?.stage ?? next.stage) : undefined);
    const key = noticeKey(revision, t.reason, stage);
    if (notified.includes(key)) continue;
    notified.push(key);
    notifications.push(notification(input, kind, t, revision, stage));
  }
  const kept = notified.filter((k) => k.startsWith(`${next.revision}/`)).slice(-maxKeys);
  return { notifications, notified: kept };
}

function notification(input: NoticeInput, kind: NotificationKind, t: Transition, id: string, stage: string | undefined): Notification {
  const found = input.revisions.find((r) => r.id === id);
  const status = stage ? input.next.stages.find((s) => s.name === stage) : undefined;
  const failures = stage && failureReasons.has(t.reason) ? failing(input, id, stage) : [];
  const fleet: FleetNotice = {
    namespace: input.fleet.namespace,
    name: input.fleet.name,
    revision: {
      id,
      commit: found?.commit ?? '',
      ...(found?.bundle ? { bundle: found.bundle } : {}),
      images: (found?.images ?? []).map((i) => ({ repository: i.repository, ...(i.tag ? { tag: i.tag } : {}), ...(i.digest ? { digest: i.digest } : {}) })),
    },
    ...(input.next.lastGood && input.next.lastGood !== id ? { lastGood: input.next.lastGood } : {}),
    ...(stage ? { stage } : {}),
    ...(status ? { counts: { devices: status.devices, updated: status.updated, ready: status.ready, failed: status.failed, offline: status.offline } } : {}),
    ...(failures.length ? { failures } : {}),
  };
  return { kind, fleet, cluster: 'hub', commit: found?.commit ?? '', reason: t.reason, message: t.message, time: input.now.toISOString() };
}

/** The first few devices of `stage` that reported a failure on revision `id` (by name: the same step gives the same list). */
function failing(input: NoticeInput, id: string, stage: string): NonNullable<FleetNotice['failures']> {
  return input.devices
    .filter((d) => input.stageOf.get(d.metadata.name) === stage)
    .filter((d) => {
      const r = d.status?.report;
      return r?.revision === id && r.ready === 'False' && !notFailures.has(r.reason);
    })
    .map((d) => d.metadata.name)
    .sort()
    .slice(0, quotedFailures)
    .map((name) => {
      const report = input.devices.find((d) => d.metadata.name === name)?.status?.report;
      return { device: name, reason: report?.reason ?? '', message: clip(report?.message ?? '') };
    });
}

/** A plan and the receivers it goes to, between the driver's status write and the send. */
export interface PendingNotices extends NoticePlan {
  spec: Pick<PipelineSpec, 'notify' | 'git'>;
}

/** The driver's side: plan before the status write, send after it succeeded. */
export class FleetNotifier {
  /** The keys this leader wrote, per Fleet: authoritative while leading. */
  private readonly sent = new Map<string, string[]>();
  private readonly invalid = new Map<string, string>();

  constructor(
    private readonly notifier: Notifier,
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  /** What to send for this step, or undefined (no receivers, nothing to tell). Never throws. */
  async plan(fleet: Fleet, input: Omit<NoticeInput, 'fleet' | 'notified' | 'revisions'>): Promise<PendingNotices | undefined> {
    const name = fleet.metadata.name;
    try {
      if (!input.transitions.some((t) => kinds[t.reason] || retried.has(t.reason) || t.reason === RolloutReasons.RolloutStarted)) return undefined;
      const spec = fleet.spec as { git?: PipelineSpec['git']; notify?: unknown } | undefined;
      const parsed = notifySchema.safeParse(spec?.notify);
      if (!parsed.success) {
        const problem = parsed.error.issues.map((i) => `spec.notify.${i.path.join('.')}: ${i.message}`).join('; ');
        if (this.invalid.get(name) !== problem) this.log.warn({ fleet: name, err: problem }, 'rollout notifications not sent: spec.notify is invalid');
        this.invalid.set(name, problem);
        return undefined;
      }
      const receivers: NotifyReceiver[] = parsed.data;
      if (receivers.length === 0) return undefined;
      const notified = this.sent.get(name) ?? (await this.fresh(fleet));
      const revisions = [...(fleet.status?.revision ? [fleet.status.revision] : []), ...(fleet.status?.revisions ?? [])];
      const plan = planNotices({ ...input, fleet: { namespace: fleet.metadata.namespace, name }, notified, revisions });
      if (plan.notifications.length === 0 && isSame(plan.notified, notified)) return undefined;
      return { ...plan, spec: { notify: receivers, ...(spec?.git ? { git: spec.git } : {}) } };
    } catch (error) {
      this.log.warn({ fleet: name, err: (error as Error).message }, 'rollout notifications not planned');
      return undefined;
    }
  }

  /** The status write that carried `pending.notified` succeeded: send, in the background. */
  sendAfterWrite(name: string, pending: PendingNotices): void {
    this.sent.set(name, pending.notified);
    for (const n of pending.notifications) this.notifier.send(pending.spec, n);
  }

  /** Leadership lost or the Fleet deleted: what this replica wrote is no longer authoritative. */
  forget(name?: string): void {
    if (name === undefined) this.sent.clear();
    else this.sent.delete(name);
  }

  /** The keys as stored now: the cache may not have the previous leader's last write yet. */
  private async fresh(fleet: Fleet): Promise<string[]> {
    try {
      const live = (await this.client.get({ apiVersion: hubApiVersion, kind: 'Fleet', namespace: this.namespace, name: fleet.metadata.name })) as
        | Fleet
        | undefined;
      return storedNotified((live ?? fleet).status?.rollout);
    } catch {
      return storedNotified(fleet.status?.rollout);
    }
  }
}

function isSame(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}
