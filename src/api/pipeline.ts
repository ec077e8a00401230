/**
 * The `Pipeline` resource (`doris.dev/v1alpha1`): one git source, image rules and policies
 * in `spec`; conditions, the applied commit, the inventory and a bounded sync history in
 * `status`. `parsePipelineSpec` validates a spec and fills in every default in one place.
 */
import { z } from 'zod';
import type { Reason } from './reasons.js';

export const group = 'doris.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const kind = 'Pipeline';
export const plural = 'pipelines';
export const defaultControllerNamespace = 'doris-system';

const secretRef = z.object({ name: z.string().min(1) });
const duration = z
  .string()
  .regex(/^(\d+(ms|s|m|h))+$/, 'a duration such as 30s, 1m or 1h30m')
  // A zero interval would poll without pause; a zero timeout would fail every wave.
  .refine((text) => parseDuration(text) > 0, 'a duration greater than zero');

const pruneSpec = z
  .union([
    z.boolean().transform((enabled) => ({ enabled, allowMass: false })),
    z.object({
      /** Delete objects that left the repository (default true). */
      enabled: z.boolean().default(true),
      /** Allow a sync to prune more than half of the inventory (default false). */
      allowMass: z.boolean().default(false),
    }),
  ])
  .default({ enabled: true, allowMass: false });

export const pipelineSpecSchema = z.object({
  git: z.object({
    /** https or ssh URL of the repository. */
    url: z.string().min(1),
    /** Branch to follow (default main). */
    branch: z.string().min(1).default('main'),
    /** Folder holding the waves (default deploy). */
    path: z.string().min(1).default('deploy'),
    /** Secret with `username` and `token` (or `password`) keys. */
    secretRef: secretRef.optional(),
    /** How often the branch is polled (default 1m, with jitter). */
    interval: duration.default('1m'),
  }),
  images: z
    .array(
      z.object({
        /** A repository (`ghcr.io/acme/app`) or a glob (`ghcr.io/acme/solar-*`). */
        repository: z.string().min(1),
        tag: z.string().min(1).default('main'),
        secretRef: secretRef.optional(),
        interval: duration.default('1m'),
      }),
    )
    .default([]),
  prune: pruneSpec,
  wait: z.object({ timeout: duration.default('5m') }).default({ timeout: '5m' }),
  /** Namespace for namespaced objects that name none (default `default`). */
  targetNamespace: z.string().min(1).optional(),
  suspend: z.boolean().default(false),
  /** `latest`: converge to the newest commit; `each-commit`: apply every commit in order. */
  replay: z.enum(['latest', 'each-commit']).default('latest'),
});

export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;

/** Validates a spec; the error names the field and what is wrong. */
export function parsePipelineSpec(spec: unknown): PipelineSpec {
  const result = pipelineSpecSchema.safeParse(spec ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid Pipeline spec: ${issues}`);
  }
  return result.data;
}

export function parseDuration(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

export interface Condition {
  type: 'Ready' | 'Reconciling' | 'Stalled';
  status: 'True' | 'False' | 'Unknown';
  reason: Reason;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** One applied object: its inventory id (`<ns>_<name>_<group>_<kind>`), version and wave. */
export interface InventoryEntry {
  id: string;
  v: string;
  wave: number;
}

export interface SyncCounts {
  created: number;
  configured: number;
  unchanged: number;
  recreated: number;
  pruned: number;
}

export interface SyncRecord {
  commit: string;
  startedAt: string;
  finishedAt: string;
  result: Reason;
  message: string;
  counts: SyncCounts;
}

/** A tracked image as last resolved (status.images). */
export interface ImageStatus {
  /** The rule that tracks the image, as written (`127.0.0.1:5000/acme/solar-*:main`). */
  rule: string;
  repository: string;
  tag: string;
  digest?: string;
  namePrefix?: string;
  /** When the digest last changed. */
  updatedAt?: string;
  /** The last resolution error, while the registry keeps failing (the digest is the last known). */
  error?: string;
}

/** One digest change of a tracked image: the audit trail of what ran when. */
export interface ImageChange {
  repository: string;
  tag: string;
  from?: string;
  to: string;
  at: string;
}

export interface PipelineStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  lastAppliedTime?: string;
  inventory?: InventoryEntry[];
  /**
   * Objects a sync in progress may have created: kept until the sync ends, so that a crash
   * mid-sync never leaves an object that no inventory knows about (it can still be pruned).
   */
  pendingInventory?: InventoryEntry[];
  history?: SyncRecord[];
  images?: ImageStatus[];
  /** Newest first, bounded. */
  imageHistory?: ImageChange[];
}

export interface Pipeline {
  apiVersion: typeof apiVersion;
  kind: typeof kind;
  metadata: { name: string; namespace: string; generation?: number; uid?: string; resourceVersion?: string };
  spec: unknown;
  status?: PipelineStatus;
}
