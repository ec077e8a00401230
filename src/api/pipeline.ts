/**
 * The `Pipeline` resource (`doris.dev/v1alpha1`): one git source, image rules and policies
 * in `spec`; conditions, the applied commit, the inventory and a bounded sync history in
 * `status`. `parsePipelineSpec` validates a spec and fills in every default in one place.
 */
import { z } from 'zod';
import type { Reason } from './reasons.js';
import { notifySchema } from './notify.js';
import { decryptionSchema, kustomizeSchema } from './sources.js';

export const group = 'doris.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const kind = 'Pipeline';
export const plural = 'pipelines';
export const defaultControllerNamespace = 'doris-system';

const secretRef = z.strictObject({ name: z.string().min(1).describe('Name of the Secret, in the Pipeline’s namespace.') });
const duration = z
  .string()
  .regex(/^(\d+(ms|s|m|h))+$/, 'a duration such as 30s, 1m or 1h30m')
  // A zero interval would poll without pause; a zero timeout would fail every wave.
  .refine((text) => parseDuration(text) > 0, 'a duration greater than zero');

/** The spec's duration rule (units required, greater than zero), for other inputs such as CLI flags. */
export const durationSchema = duration;

const pruneSpec = z
  .union([
    z.boolean().transform((enabled) => ({ enabled, allowMass: false, crds: false })),
    z
      .object({
        enabled: z.boolean().default(true).describe('Delete objects that left the repository (default true).'),
        allowMass: z.boolean().default(false).describe('Allow one sync to prune more than half of the inventory (default false).'),
        crds: z
          .boolean()
          .default(false)
          .describe(
            'Allow pruning CustomResourceDefinitions (default false): deleting a CRD deletes every object of its kind in the whole cluster, far beyond this Pipeline’s inventory.',
          ),
      })
      .strict(),
  ])
  .default({ enabled: true, allowMass: false, crds: false })
  .describe(
    'Pruning of objects that left the repository: true or false, or an object {enabled, allowMass, crds}. Default: enabled, at most half of the inventory per sync, never CustomResourceDefinitions.',
  );

/**
 * Why `url` may name one host to this check and another to the client that connects. We
 * check with WHATWG `URL`, but git hands http(s) URLs to curl and reads ssh URLs itself, and
 * they disagree: `\` ends the host for WHATWG but belongs to the user name for curl
 * (`http://127.0.0.1:1\@10.0.0.5/` is loopback to one, 10.0.0.5 to the other); WHATWG drops
 * tabs and newlines, ends the user name at the last `@` where curl takes the first, and
 * rewrites hosts (%-escapes, IDNA, `127.1`). So a URL passes only when the host as written is
 * the host WHATWG read, and it holds none of the characters they treat differently.
 */
function ambiguousCharacter(url: string): string | undefined {
  const found = /[\\\s\p{Cc}]/u.exec(url);
  return found ? `a URL without backslashes, whitespace or control characters (found ${JSON.stringify(found[0])})` : undefined;
}

/** See `ambiguousCharacter`; and the host as written must be the host as read. */
function hostAmbiguity(url: string, parsed: URL): string | undefined {
  const character = ambiguousCharacter(url);
  if (character) return character;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1];
  if (authority === undefined) return `a URL that starts ${parsed.protocol}//host`;
  if (authority.split('@').length > 2) return 'a URL with at most one @ (the one before the host)';
  const host = authority.slice(authority.indexOf('@') + 1).replace(/:\d*$/, '');
  if (host.toLowerCase() !== parsed.hostname.toLowerCase()) {
    return `a host written the way it is read (${JSON.stringify(host)} reads as ${JSON.stringify(parsed.hostname)})`;
  }
  return undefined;
}

/**
 * Where a repository may come from: https (http only for tests on loopback), ssh URLs and
 * scp-like `git@host:path`. `file://`, local paths and git's `ext::` transports are refused:
 * a Pipeline must not read the controller's own disk or run programs.
 */
export function checkRepoUrl(url: string): string | undefined {
  if (/^git@[^\s:/@]+:[^\s]+$/.test(url)) return ambiguousCharacter(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return ambiguousCharacter(url) ?? 'an https:// or ssh:// URL, or git@host:path';
  }
  const loopbackHttp = parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'ssh:' && !loopbackHttp) {
    return `an https:// or ssh:// URL, or git@host:path (${parsed.protocol}// is refused)`;
  }
  // ssh never reads it, and a Pipeline's spec is readable by anyone who may list Pipelines.
  if (parsed.protocol === 'ssh:' && parsed.password) return 'an ssh:// URL without a password (the identity comes from spec.git.secretRef)';
  return hostAmbiguity(url, parsed);
}

/**
 * Where a hub may be: https, or http only on loopback (tests) or when the agent was
 * installed with plain HTTP allowed (`insecure: true`, for a hub behind a trusted network).
 * The hub client reads the URL with WHATWG `URL` as this check does; the rules of
 * `ambiguousCharacter` still apply, so that the host a user reads in the spec is where tokens go.
 */
export function checkHubUrl(url: string, insecure = false): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return ambiguousCharacter(url) ?? 'an https:// URL';
  }
  if (parsed.username || parsed.password) return 'a URL without credentials (the device token comes from spec.hub.secretRef)';
  const allowedHttp = parsed.protocol === 'http:' && (insecure || ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname));
  if (parsed.protocol !== 'https:' && !allowedHttp) return `an https:// URL (${parsed.protocol}// is refused unless spec.hub.insecure is true)`;
  return hostAmbiguity(url, parsed);
}

const hubSpec = z
  .object({
    url: z.string().min(1).describe('The hub’s base URL (https://hub.example.com).'),
    /** The Fleet this device belongs to. */
    fleet: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Fleet name (lower case, digits and -)')
      .max(63)
      .describe('The Fleet this device belongs to.'),
    secretRef: secretRef.describe('Secret in the controller namespace with key `token`: the device token stored at enrollment.'),
    pollTimeout: duration.default('5m').describe('How long one long-poll of the target may wait (default 5m).'),
    interval: duration.default('1m').describe('How often what is applied is checked for drift between targets (default 1m, with jitter).'),
    insecure: z.boolean().default(false).describe('Allow plain HTTP to a hub that is not on loopback (default false).'),
  })
  .strict()
  .superRefine((hub, ctx) => {
    const problem = checkHubUrl(hub.url, hub.insecure);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });

export type HubSpec = z.infer<typeof hubSpec>;

const gitSpec = z.strictObject({
  url: z
    .string()
    .min(1)
    .superRefine((url, ctx) => {
      const problem = checkRepoUrl(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('URL of the repository: https://host/path, ssh://git@host/path or git@host:path.'),
  branch: z.string().min(1).default('main').describe('Branch to follow (default main).'),
  path: z.string().min(1).default('deploy').describe('Folder of the repository that holds the waves (default deploy).'),
  secretRef: secretRef
    .optional()
    .describe(
      'Secret in the controller namespace with the git credentials: `username` and `token` (or `password`), or `identity` (an SSH key) and `known_hosts`.',
    ),
  interval: duration.default('1m').describe('How often the branch is polled (default 1m, with jitter), e.g. 30s, 5m, 1h.'),
});

export type GitSpec = z.infer<typeof gitSpec>;

export const pipelineSpecSchema = z
  .strictObject({
    git: gitSpec.optional().describe('The git repository and branch to follow (give spec.git or spec.hub, not both).'),
    hub: hubSpec.optional().describe('A fleet hub to follow instead of git: the hub chooses the commit and the image digests.'),
    images: z
      .array(
        z.strictObject({
          repository: z.string().min(1).describe('A repository (ghcr.io/acme/app) or a glob (ghcr.io/acme/solar-*) whose images are pinned by digest.'),
          tag: z.string().min(1).default('main').describe('The tag to follow (default main).'),
          secretRef: secretRef.optional().describe('Secret (type kubernetes.io/dockerconfigjson) in the controller namespace with the registry credentials.'),
          interval: duration.default('1m').describe('How often the registry is asked for the tag’s digest (default 1m, with jitter).'),
        }),
      )
      .default([])
      .describe('Image rules: images of these repositories are pinned to the digest their tag points to, and a new digest is applied.'),
    prune: pruneSpec,
    wait: z
      .strictObject({ timeout: duration.default('5m').describe('How long a wave may take to become healthy (default 5m).') })
      .default({ timeout: '5m' })
      .describe('Waiting for health after each wave.'),
    targetNamespace: z.string().min(1).optional().describe('Namespace for namespaced objects that name none (default `default`).'),
    /**
     * A ServiceAccount in the Pipeline's namespace: every read, apply and prune of this Pipeline
     * is made impersonating it, so a team's repository can do only what its account may.
     */
    serviceAccountName: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a ServiceAccount name (lower case, digits, - and .)')
      .max(253)
      .optional()
      .describe(
        'A ServiceAccount in the Pipeline’s namespace: every read, apply and prune of this Pipeline is made impersonating it, so a repository can do only what its account may.',
      ),
    suspend: z.boolean().default(false).describe('Stop syncing and polling images; what is applied stays (default false).'),
    replay: z
      .enum(['latest', 'each-commit'])
      .default('latest')
      .describe('latest (default): converge to the newest commit; each-commit: apply every commit since the last applied one, in order.'),
    notify: notifySchema,
    kustomize: kustomizeSchema,
    decryption: decryptionSchema,
  })
  .superRefine((spec, ctx) => {
    if (!spec.git && !spec.hub) ctx.addIssue({ code: 'custom', path: ['git'], message: 'required (or spec.hub, to follow a fleet hub instead)' });
    if (spec.git && spec.hub) ctx.addIssue({ code: 'custom', path: ['hub'], message: 'give spec.git or spec.hub, not both' });
    if (spec.hub && spec.images.length > 0)
      ctx.addIssue({ code: 'custom', path: ['images'], message: "a Pipeline following a hub takes its image digests from the hub (the Fleet's spec.images)" });
  });

export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;

/** How often a Pipeline resyncs: its branch poll, or in hub mode its drift check. */
export function syncInterval(spec: PipelineSpec): string {
  return spec.git?.interval ?? spec.hub?.interval ?? '1m';
}

/** The interval a controller resyncs a Pipeline at, in ms: `override` (`doris run --poll-interval`) or the spec's. */
export function syncIntervalMs(spec: PipelineSpec, override?: number): number {
  return override ?? parseDuration(syncInterval(spec));
}

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
  /**
   * For objects DORIS may write but not read (Secrets outside its namespace): the uid and
   * resourceVersion its last apply returned, and whether the object asked not to be pruned.
   * Drift is detected by comparing resourceVersions, and prune deletes only with these as
   * preconditions (docs/adr/0004-no-op-detection.md).
   */
  uid?: string;
  rv?: string;
  /** The desired hash applied (to tell a changed commit from an unchanged one). */
  h?: string;
  keep?: boolean;
}

/** An inventory too large to keep as a plain list in status: the same list, compressed. */
export interface InventoryArchive {
  encoding: 'gzip+base64';
  /** Number of entries, so that counting needs no unpacking. */
  count: number;
  data: string;
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
  /**
   * How many syncs this entry stands for: the same commit failing again with the same reason
   * updates one entry (startedAt/finishedAt are the last attempt's) instead of pushing older ones out.
   */
  count?: number;
  /** When the first of those attempts started. */
  firstTime?: string;
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
  /** Read through `readInventory` (src/inventory/archive.ts): a large one is archived instead. */
  inventory?: InventoryEntry[] | null;
  inventoryArchive?: InventoryArchive | null;
  /**
   * Objects a sync in progress may have created: kept until the sync ends, so that a crash
   * mid-sync never leaves an object that no inventory knows about (it can still be pruned).
   */
  pendingInventory?: InventoryEntry[] | null;
  pendingInventoryArchive?: InventoryArchive | null;
  history?: SyncRecord[];
  images?: ImageStatus[];
  /** Newest first, bounded. */
  imageHistory?: ImageChange[];
  /** The last `doris reconcile` request (annotation value) a finished sync answered (src/api/reconcile.ts). */
  lastHandledReconcileAt?: string;
}

export interface Pipeline {
  apiVersion: typeof apiVersion;
  kind: typeof kind;
  metadata: { name: string; namespace: string; generation?: number; uid?: string; resourceVersion?: string };
  spec: unknown;
  status?: PipelineStatus;
}
