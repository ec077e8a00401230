/**
 * The hub's resources (`hub.doris.dev/v1alpha1`), kept in the hub's central cluster:
 *
 * - `Fleet`: one upstream (a git source and image rules, exactly like a Pipeline's) for many
 *   devices; its status holds the revisions the hub resolved (commit + image digests, and the
 *   content-addressed bundle of the commit's wave folder) and, with a rollout policy, where
 *   the rollout stands.
 * - `Device`: one enrolled device: its labels (metadata.labels, so `kubectl get devices -l`
 *   and rollout selectors both work), the SHA-256 of its token, and its last report.
 *
 * The API server is the hub's store and its pub/sub: replicas share nothing else.
 */
import { z } from 'zod';
import type { ImageStatus, PipelineSpec, SyncCounts } from './pipeline.js';
import { notifySchema } from './notify.js';
import { durationSchema, pipelineSpecSchema } from './pipeline.js';
import { revisionIdPattern } from '../hub/revision.js';

export const hubGroup = 'hub.doris.dev';
export const hubVersion = 'v1alpha1';
export const hubApiVersion = `${hubGroup}/${hubVersion}`;

/**
 * A Fleet's spec: `git` and `images` exactly as a Pipeline's; `rollout` is the staged-rollout
 * policy; `notify` the receivers of its rollout transitions, exactly as a Pipeline's receivers
 * (their Secrets in the hub namespace).
 */
export const fleetSpecSchema = z
  .object({
    git: z.unknown(),
    images: z.unknown().optional(),
    rollout: z.unknown().optional(),
    notify: notifySchema.describe(
      'Receivers told when a rollout halts, rolls back, is aborted, or completes a revision (generic, slack or github; Secrets in the hub namespace).',
    ),
  })
  .transform((spec, ctx) => {
    // Validated by the Pipeline's own schema, so that the two cannot drift apart.
    const parsed = pipelineSpecSchema.safeParse({ git: spec.git, images: spec.images ?? [] });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return { git: parsed.data.git as NonNullable<PipelineSpec['git']>, images: parsed.data.images, rollout: spec.rollout, notify: spec.notify };
  });

export type FleetSpec = z.infer<typeof fleetSpecSchema>;

/** One revision the hub resolved: what every device on it runs. */
export interface Revision {
  /** `r-` + the first 16 hex digits of sha256(commit, bundle digest, image digests): the target's ETag. */
  id: string;
  commit: string;
  /** `sha256:<hex>` of the bundle (a gzip'd tar of the commit's wave folder). */
  bundle: string;
  bundleSize: number;
  /** The tracked images, resolved by the hub (devices never ask the registry). */
  images: ImageStatus[];
  /** When the hub first resolved it. */
  createdAt: string;
}

/** Staged rollouts (issue [rollout]; docs/rollouts.md). The engine is src/hub/rollout/engine.ts. */
export type RolloutPhase = 'Progressing' | 'Halted' | 'Complete' | 'Paused';

/** One stage in `Fleet.status.rollout.stages` (counts are of the rollout's revision). */
export interface StageStatus {
  name: string;
  /** The revision this stage's devices are told to run (absent: none yet). */
  revision?: string;
  devices: number;
  /** Online devices reporting the rollout's revision (whatever the outcome). */
  updated: number;
  ready: number;
  failed: number;
  offline: number;
  /** When the rollout's revision reached the stage. */
  startedAt?: string;
  /** When the stage last met minReady (its soak runs from here). */
  readyAt?: string;
  completedAt?: string;
  /** Why the stage did not wait: it had no devices, all were offline, or it was promoted. */
  skipped?: 'empty' | 'offline' | 'promoted';
}

/** `Fleet.status.rollout`. */
export interface RolloutStatus {
  state: RolloutPhase;
  /** The revision being rolled out (when Complete: the one every stage has). */
  revision: string;
  /** The last revision that completed every stage: what a halt keeps and a rollback restores. */
  lastGood?: string;
  /** The current stage: the first one not done (absent when Complete). */
  stage?: string;
  /** Its index in `stages` (`stages.length` when Complete). */
  stageIndex: number;
  stages: StageStatus[];
  startedAt: string;
  completedAt?: string;
  pausedAt?: string;
  haltedAt?: string;
  /** Why it halted: which stage, how many devices failed, what maxFailures allows. */
  haltedBecause?: string;
  /** Halted by `abort` (resume restarts at the first stage). */
  aborted?: boolean;
  /** The halted stage was given the last good revision back. */
  rolledBack?: boolean;
  /** One line: where the rollout stands and why. */
  message: string;
  /** The last command annotation consumed (the driver's; the engine carries it over). */
  lastCommand?: string;
}

export interface FleetStatus {
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string; lastTransitionTime: string }>;
  /** The newest revision resolved upstream. */
  revision?: Revision;
  /** Revisions devices may still be told to run (the newest, the last good one during a rollout), newest first, bounded. */
  revisions?: Revision[];
  lastPolled?: string;
  /** Device counts by state (informative; the Devices are the truth). */
  devices?: { total: number; ready: number; failed: number; offline: number; onRevision: number };
  /**
   * Where the staged rollout stands: a `RolloutStatus` as the hub leader writes it. The CRD
   * keeps it open, so what is read back is unchecked: read it with `parseRolloutStatus`
   * (src/hub/rollout/targets.ts).
   */
  rollout?: unknown;
}

export interface Fleet {
  apiVersion: typeof hubApiVersion;
  kind: 'Fleet';
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
  status?: FleetStatus;
}

/** What an agent reports after every sync and on health changes. */
export const deviceReportSchema = z
  .object({
    /** The revision the device was told to run when it synced: an id the hub issued (src/hub/revision.ts). */
    revision: z.string().regex(revisionIdPattern, 'a revision id the hub issued (r- and 16 hex digits)').optional(),
    /** The commit applied (full SHA), or attempted when the sync failed. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40,64}$/)
      .optional(),
    ready: z.enum(['True', 'False', 'Unknown']),
    // Shown in tables (kubectl, doris fleet devices): no control or escape characters.
    reason: z
      .string()
      .max(64)
      .regex(/^[\x20-\x7e]*$/, 'printable ASCII (letters, digits, punctuation and spaces)'),
    message: z.string().max(2048),
    counts: z
      .object({
        created: z.number().int().min(0),
        configured: z.number().int().min(0),
        unchanged: z.number().int().min(0),
        recreated: z.number().int().min(0),
        pruned: z.number().int().min(0),
      })
      .optional(),
    /** The digests the device runs, by repository. */
    images: z
      .array(z.object({ repository: z.string().max(512), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) }).strict())
      .max(256)
      .default([]),
    agentVersion: z.string().max(64),
  })
  .strict();

export type DeviceReport = z.infer<typeof deviceReportSchema>;

export interface ReportHistoryEntry {
  at: string;
  revision?: string;
  commit?: string;
  ready: 'True' | 'False' | 'Unknown';
  reason: string;
}

/** How many state changes a Device keeps in status.history. */
export const maxDeviceHistory = 10;

export interface DeviceStatus {
  report?: DeviceReport & { counts?: SyncCounts };
  /** When the report last changed. */
  reportedAt?: string;
  /**
   * The last reports that changed the device's state (revision, Ready or reason), newest first,
   * bounded: written in the same patch as the report, so the history costs no extra write.
   */
  history?: ReportHistoryEntry[];
  /**
   * Presence, written only when it changes (src/hub/presence.ts): while `connected`, when the
   * device connected to `servedBy`; once disconnected, its last contact.
   */
  lastSeen?: string;
  /** Whether a hub replica holds the device's long-poll (or saw it within the grace). */
  connected?: boolean;
  /** The identity of the replica the device is connected to. */
  servedBy?: string;
  /** The revision the hub last served this device. */
  servedRevision?: string;
  /** The rollout stage that selects this device (issue [rollout]; empty without a rollout). */
  stage?: string;
}

export interface Device {
  apiVersion: typeof hubApiVersion;
  kind: 'Device';
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; creationTimestamp?: string };
  spec: {
    fleet: string;
    /** `sha256:<hex>` of the device token. */
    tokenHash: string;
  };
  status?: DeviceStatus;
}

/**
 * A hub replica that is not the leader and receives a webhook for a Fleet sets this annotation
 * (the time of the request) on it: the leader sees the change on its watch and polls the Fleet
 * once. An annotation is not a generation change, so nothing else restarts.
 */
export const pollRequestedAnnotation = 'hub.doris.dev/poll-requested-at';

/** The label that says which Fleet a Device belongs to (selectors and the hub's watch use it). */
export const fleetLabel = 'hub.doris.dev/fleet';

/** How long a disconnected device may stay away before it counts as offline. */
export const offlineAfterMs = 15 * 60_000;

export { durationSchema };
