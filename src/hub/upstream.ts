/**
 * Upstream, once per Fleet: while this replica leads, each Fleet's branch is resolved with one
 * `git ls-remote` and each tracked image with one registry HEAD per interval (and on the
 * GitHub and registry webhooks), however many devices follow it.
 *
 * A new commit is fetched, its wave folder archived into a bundle (bundles.ts) and the bundle
 * unpacked and rendered exactly as an agent will: a commit that does not render, or a wave
 * folder a bundle cannot hold, never leaves the hub — the Fleet's Ready turns False with the
 * reason (BuildFailed, naming file:line:col) and its last revision stays. The render also says
 * which repositories glob image rules track. The hub holds no decryption key: SOPS-encrypted
 * files travel encrypted in the bundle and only the devices decrypt them. The commit, the bundle digest and the image
 * digests make the revision (revision.ts); a new revision id is written to the Fleet's status.
 *
 * While the branch head is refused, nothing else moves either (image digests included): the
 * Fleet stays on its last revision until a commit renders again.
 *
 * Status is written only on change: a new revision, a changed Ready condition, a new
 * generation observed; `lastPolled` rides along with those and is otherwise refreshed at most
 * every `lastPolledEveryMs`. An idle Fleet costs its upstream requests and no API writes.
 * After a new revision, the Fleet's bundles no revision uses any more are deleted.
 *
 * Runs are scheduled like the controller's syncs (controller/scheduler.ts): one run per Fleet
 * at a time, intervals with jitter, doubling backoff on failure, bounded concurrency, and
 * `pause()` when leadership is lost.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Counter } from 'prom-client';
import { type Fleet, type FleetSpec, type FleetStatus, fleetSpecSchema, hubApiVersion, pollRequestedAnnotation, type Revision } from '../api/hub.js';
import { type ImageStatus, parseDuration } from '../api/pipeline.js';
import { type Reason, Reasons } from '../api/reasons.js';
import { defaultSchedulerOptions, type RunResult, Scheduler, type SchedulerOptions } from '../controller/scheduler.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { compareResourceVersions } from '../kube/object.js';
import type { Logger } from '../log.js';
import { renderRepo } from '../render/layout.js';
import type { DesiredObject } from '../render/types.js';
import type { PushedImage } from '../server/registry-hook.js';
import { gitCredentialsFromSecret, registryCredentialsResolver } from '../source/credentials.js';
import { type GitCredentials, GitSource } from '../source/git.js';
import { ImageTracker, defaultImageTrackerOptions } from '../source/images.js';
import { ruleMatches } from '../source/registry/index.js';
import { normalizeRepoUrl } from '../source/repo-url.js';
import { type BundleStore, buildBundle, extractBundle, maxBundleBytes, maxTarBytes } from './bundles.js';
import type { FleetCache } from './fleets.js';
import { nextRevisions, revisionId } from './revision.js';

export interface UpstreamDeps {
  client: KubeClient;
  /** The hub namespace: Fleets, their Secrets and bundles live here. */
  namespace: string;
  log: Logger;
  fleets: FleetCache;
  bundles: BundleStore;
  /** Git cache and scratch folders for renders. */
  workDir: string;
  /** dockerconfigjson for image rules without a Secret. */
  registryCredentialsFile?: string;
  /** Labels: `source` (`git` for ls-remote, `git-fetch`, `registry`) and `result` (changed, unchanged, error). */
  metrics?: { upstreamRequests: Counter<'source' | 'result'> };
}

export interface UpstreamOptions {
  /** Overrides every Fleet's interval (tests, benchmarks). */
  intervalMs?: number;
  schedule: SchedulerOptions;
  /** Per git command. */
  gitTimeoutMs: number;
  /** `status.lastPolled` is refreshed at most this often when nothing else changes. */
  lastPolledEveryMs: number;
  /** Revisions kept in status (those a rollout references are kept beyond it, up to the CRD's 16). */
  maxRevisions: number;
  maxBundleBytes: number;
  now: () => Date;
}

export function defaultUpstreamOptions(): UpstreamOptions {
  return {
    schedule: defaultSchedulerOptions(),
    gitTimeoutMs: 120_000,
    lastPolledEveryMs: 5 * 60_000,
    maxRevisions: 10,
    maxBundleBytes,
    now: () => new Date(),
  };
}

type Condition = NonNullable<FleetStatus['conditions']>[number];

interface Outcome {
  /** The poll reached upstream (false: back off). */
  ok: boolean;
  revision?: Omit<Revision, 'createdAt'>;
  ready: { status: Condition['status']; reason: Reason; message: string };
}

interface FleetState {
  generation?: number;
  uid?: string;
  /** The Fleet's poll-request annotation as last seen: a new value (a follower's webhook) polls once. */
  pollRequested?: string;
  tracker: ImageTracker;
  /**
   * The last commit built and stored (`url\0path\0commit`). What it rendered is not kept: the
   * image tracker keeps the repositories glob rules found in it, which is all later polls need.
   */
  built?: { key: string; digest: string; size: number };
  /** A commit that could not be built: not tried again until the branch moves or the spec changes. */
  failed?: { key: string; outcome: Outcome };
  /** The Fleet as this replica last wrote it (the watch may not have delivered it yet). */
  written?: Fleet;
}

const maxConditionMessage = 4000;

function truncate(text: string): string {
  return text.length > maxConditionMessage ? `${text.slice(0, maxConditionMessage)}…` : text;
}

/** The later of two views of one Fleet. */
function newer(seen: Fleet, written: Fleet | undefined): Fleet {
  if (!written || written.metadata.uid !== seen.metadata.uid) return seen;
  const order = compareResourceVersions(written.metadata.resourceVersion as string | undefined, seen.metadata.resourceVersion as string | undefined);
  return order !== undefined && order > 0 ? written : seen;
}

/** The Ready condition after `ready`, or undefined when the Fleet's is already that. */
export function nextReady(conditions: readonly Condition[] | undefined, ready: Outcome['ready'], now: Date): Condition[] | undefined {
  const before = conditions?.find((c) => c.type === 'Ready');
  const message = truncate(ready.message);
  if (before && before.status === ready.status && before.reason === ready.reason && before.message === message) return undefined;
  const lastTransitionTime = before && before.status === ready.status ? before.lastTransitionTime : now.toISOString();
  return [...(conditions ?? []).filter((c) => c.type !== 'Ready'), { type: 'Ready', status: ready.status, reason: ready.reason, message, lastTransitionTime }];
}

/** The status fields to write after a poll (undefined: nothing changed). */
export function statusPatch(
  fleet: Fleet,
  outcome: Outcome,
  now: Date,
  options: Pick<UpstreamOptions, 'lastPolledEveryMs' | 'maxRevisions'>,
): Partial<FleetStatus> | undefined {
  const status = fleet.status ?? {};
  const patch: Partial<FleetStatus> = {};
  if (outcome.revision && outcome.revision.id !== status.revision?.id) {
    // A revision seen before (a revert) keeps the time it was first resolved.
    const createdAt = status.revisions?.find((r) => r.id === outcome.revision!.id)?.createdAt ?? now.toISOString();
    const revision: Revision = { ...outcome.revision, createdAt };
    patch.revision = revision;
    patch.revisions = nextRevisions(revision, status.revisions ?? [], status.rollout, options.maxRevisions).slice(0, 16);
  }
  const conditions = nextReady(status.conditions, outcome.ready, now);
  if (conditions) patch.conditions = conditions;
  const generation = fleet.metadata.generation;
  if (generation !== undefined && status.observedGeneration !== generation) patch.observedGeneration = generation;
  const lastPolled = status.lastPolled ? Date.parse(status.lastPolled) : Number.NaN;
  const stale = !(now.getTime() - lastPolled < options.lastPolledEveryMs);
  if (Object.keys(patch).length === 0 && !stale) return undefined;
  patch.lastPolled = now.toISOString();
  return patch;
}

/** An image as a revision carries it: the digest the hub chose, no poll errors (those go to the condition). */
function revisionImage(image: ImageStatus): ImageStatus {
  const { error: _error, ...rest } = image;
  return rest;
}

export class Upstream {
  private readonly scheduler: Scheduler;
  private readonly states = new Map<string, FleetState>();
  private readonly options: UpstreamOptions;
  private leading = false;

  constructor(
    private readonly deps: UpstreamDeps,
    options: Partial<UpstreamOptions> = {},
  ) {
    this.options = { ...defaultUpstreamOptions(), ...options };
    this.scheduler = new Scheduler((name, signal) => this.poll(name, signal), this.options.schedule, {
      threw: (name, error) => deps.log.warn({ fleet: name, err: (error as Error).message }, 'upstream poll failed'),
      triggered: (name, why) => deps.log.debug({ fleet: name, why }, 'upstream poll'),
    });
    deps.fleets.onEvent((event) => {
      if (event.type === 'delete') {
        this.scheduler.forget(event.name);
        this.states.delete(event.name);
        return;
      }
      const { name, generation, uid } = event.fleet.metadata;
      const state = this.states.get(name);
      // A new Fleet, a new spec, or a Fleet deleted and created again: start afresh.
      if (!state || state.generation !== generation || state.uid !== uid) {
        // A run in flight finishes with the old spec; the trigger runs once more right after it.
        this.states.set(name, this.newState(event.fleet));
        this.scheduler.trigger(name, state ? 'spec changed' : 'new fleet');
        return;
      }
      // Not a generation change: a follower replica got a webhook and asks the leader through the annotation.
      const requested = event.fleet.metadata.annotations?.[pollRequestedAnnotation];
      if (requested !== state.pollRequested) {
        state.pollRequested = requested;
        if (requested) this.scheduler.trigger(name, 'webhook via a follower');
      }
    });
  }

  private newState(fleet: Fleet): FleetState {
    const credentials = registryCredentialsResolver(this.deps.client, this.deps.namespace, this.deps.registryCredentialsFile);
    return {
      generation: fleet.metadata.generation,
      uid: fleet.metadata.uid,
      pollRequested: fleet.metadata.annotations?.[pollRequestedAnnotation],
      tracker: new ImageTracker(credentials, defaultImageTrackerOptions()),
    };
  }

  private state(fleet: Fleet): FleetState {
    let state = this.states.get(fleet.metadata.name);
    if (!state) {
      state = this.newState(fleet);
      this.states.set(fleet.metadata.name, state);
    }
    return state;
  }

  /** Leadership won: poll every Fleet now and at its interval. Lost: stop polling (runs in flight are aborted). */
  setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      this.scheduler.resume();
      for (const fleet of this.deps.fleets.list()) this.scheduler.trigger(fleet.metadata.name, 'leadership');
    } else {
      this.scheduler.pause();
    }
  }

  /** Polls the Fleet now (a webhook); ignored unless leading. */
  trigger(fleet: string, why: string): void {
    this.scheduler.trigger(fleet, why);
  }

  private *validFleets(): Generator<{ name: string; spec: FleetSpec }> {
    for (const fleet of this.deps.fleets.list()) {
      const parsed = fleetSpecSchema.safeParse(fleet.spec);
      if (parsed.success) yield { name: fleet.metadata.name, spec: parsed.data };
    }
  }

  /** Fleets following one of `repositories` at `branch` (GitHub push webhooks); the caller triggers them. */
  fleetsForPush(repositories: string[], branch: string): string[] {
    const wanted = new Set(repositories.map(normalizeRepoUrl));
    return [...this.validFleets()].filter(({ spec }) => wanted.has(normalizeRepoUrl(spec.git.url)) && spec.git.branch === branch).map((f) => f.name);
  }

  /** Fleets with an image rule covering one of `images` (registry notifications); the caller triggers them. */
  fleetsForImages(images: PushedImage[]): string[] {
    return [...this.validFleets()]
      .filter(({ spec }) => images.some((image) => spec.images.some((rule) => ruleMatches(rule.repository, image.repository))))
      .map((f) => f.name);
  }

  /** Stops polling; resolves when runs in flight have ended, or at `deadline` (epoch ms). */
  async stop(deadline: number): Promise<void> {
    this.leading = false;
    this.scheduler.pause();
    await this.scheduler.drain(deadline);
  }

  private count(source: 'git' | 'git-fetch' | 'registry', result: 'changed' | 'unchanged' | 'error', n = 1): void {
    if (n > 0) this.deps.metrics?.upstreamRequests.inc({ source, result }, n);
  }

  private intervalOf(spec: FleetSpec): number {
    return this.options.intervalMs ?? Math.min(parseDuration(spec.git.interval), ...spec.images.map((rule) => parseDuration(rule.interval)));
  }

  private async poll(name: string, signal: AbortSignal): Promise<RunResult> {
    const seen = this.deps.fleets.get(name);
    if (!seen || signal.aborted) return { ok: true };
    const parsed = fleetSpecSchema.safeParse(seen.spec);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
      await this.record(seen, { ok: true, ready: { status: 'False', reason: Reasons.InvalidSpec, message } });
      return { ok: true }; // nothing to poll until the spec changes
    }
    const spec = parsed.data;
    const intervalMs = this.intervalOf(spec);
    const state = this.state(seen);
    let outcome: Outcome;
    try {
      outcome = await this.resolve(seen, spec, state, signal);
    } catch (error) {
      if (signal.aborted) return { ok: true };
      const code = error instanceof DorisError ? error.code : Reasons.ReconcileFailed;
      outcome = { ok: false, ready: { status: 'False', reason: code, message: (error as Error).message } };
    }
    if (signal.aborted) return { ok: true };
    await this.record(seen, outcome);
    return { ok: outcome.ok, intervalMs };
  }

  private async credentials(spec: FleetSpec): Promise<GitCredentials> {
    if (!spec.git.secretRef) return {};
    try {
      return await gitCredentialsFromSecret(this.deps.client, this.deps.namespace, spec.git.secretRef.name);
    } catch (error) {
      throw new DorisError(Reasons.CredentialsFailed, `${(error as Error).message} (spec.git.secretRef)`, { cause: error });
    }
  }

  private async resolve(fleet: Fleet, spec: FleetSpec, state: FleetState, signal: AbortSignal): Promise<Outcome> {
    const { git } = spec;
    const source = new GitSource(git.url, await this.credentials(spec), {
      cacheDir: join(this.deps.workDir, 'git'),
      timeoutMs: this.options.gitTimeoutMs,
      signal,
    });
    let commit: string;
    try {
      commit = await source.resolveBranch(git.branch);
    } catch (error) {
      this.count('git', 'error');
      throw error;
    }
    const key = `${git.url}\0${git.path}\0${commit}`;
    this.count('git', state.built?.key === key || state.failed?.key === key ? 'unchanged' : 'changed');
    if (state.failed?.key === key) return state.failed.outcome;

    let rendered: DesiredObject[] | undefined;
    if (state.built?.key !== key) {
      try {
        rendered = await this.build(fleet, source, spec, commit, state);
      } catch (error) {
        if (signal.aborted) throw error;
        if (!(error instanceof DorisError && error.code === Reasons.BuildFailed)) throw error;
        // The branch moved to a commit that cannot be served: say why, keep the last revision.
        const outcome: Outcome = {
          ok: true,
          ready: { status: 'False', reason: Reasons.BuildFailed, message: `commit ${commit.slice(0, 12)}: ${error.message}` },
        };
        state.failed = { key, outcome };
        this.deps.log.warn({ fleet: fleet.metadata.name, commit, err: error.message }, 'commit refused');
        return outcome;
      }
    }
    const built = state.built!;

    let images: ImageStatus[] = [];
    let errors: string[] = [];
    if (spec.images.length > 0) {
      const resolution = await state.tracker.resolve(spec.images, fleet.status?.revision?.images ?? [], signal, rendered ? { rendered } : {});
      // One HEAD per repository a rule covers (token requests not counted).
      const failed = resolution.kept.length + resolution.unresolved.length;
      this.count('registry', 'error', failed);
      this.count('registry', 'changed', resolution.changes.length);
      this.count('registry', 'unchanged', resolution.images.length - failed - resolution.changes.length);
      images = resolution.images.map(revisionImage);
      errors = resolution.errors;
    }
    const revision = { id: revisionId(commit, built.digest, images), commit, bundle: built.digest, bundleSize: built.size, images };
    const ready: Outcome['ready'] =
      errors.length > 0
        ? { status: 'False', reason: Reasons.ImageResolveFailed, message: `revision ${revision.id} with the last known digests: ${errors.join('; ')}` }
        : { status: 'True', reason: Reasons.Succeeded, message: `revision ${revision.id}: commit ${commit.slice(0, 12)}, ${images.length} image(s)` };
    return { ok: errors.length === 0, revision, ready };
  }

  /** Fetches, bundles, renders and stores `commit`; returns what it rendered. Throws BuildFailed for a commit that cannot be served. */
  private async build(fleet: Fleet, source: GitSource, spec: FleetSpec, commit: string, state: FleetState): Promise<DesiredObject[]> {
    const { git } = spec;
    try {
      await source.fetchCommit(commit, git.branch);
      this.count('git-fetch', 'changed');
    } catch (error) {
      this.count('git-fetch', 'error');
      throw error;
    }
    const tar = await source.archive(commit, git.path, maxTarBytes());
    const bundle = buildBundle(tar, git.path, { maxBytes: this.options.maxBundleBytes });
    // Rendered from the bundle itself, unpacked as an agent unpacks it: what passes here is what devices get.
    mkdirSync(this.deps.workDir, { recursive: true });
    const root = mkdtempSync(join(this.deps.workDir, 'render-'));
    let rendered: DesiredObject[];
    try {
      extractBundle(bundle.bytes, join(root, git.path));
      // Secrets stay sealed at the hub: SOPS files are decrypted by the devices that hold the key.
      const repo = await renderRepo(root, git.path, { encryptedWithoutKey: 'warning' });
      rendered = repo.waves.flatMap((wave) => wave.steps.flatMap((step) => step.objects));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    if (!fleet.metadata.uid) throw new DorisError(Reasons.ReconcileFailed, `Fleet ${fleet.metadata.name} has no uid`);
    await this.deps.bundles.put({ name: fleet.metadata.name, uid: fleet.metadata.uid }, bundle);
    state.built = { key: `${git.url}\0${git.path}\0${commit}`, digest: bundle.digest, size: bundle.size };
    state.failed = undefined;
    this.deps.log.info({ fleet: fleet.metadata.name, commit, bundle: bundle.digest, size: bundle.size, files: bundle.files }, 'bundle built');
    return rendered;
  }

  /** Writes what changed (see the module header). */
  private async record(seen: Fleet, outcome: Outcome): Promise<void> {
    const name = seen.metadata.name;
    const state = this.states.get(name);
    const fleet = newer(seen, state?.written);
    const patch = statusPatch(fleet, outcome, this.options.now(), this.options);
    if (!patch) return;
    const key = { apiVersion: hubApiVersion, kind: 'Fleet', namespace: this.deps.namespace, name };
    try {
      const written = (await this.deps.client.mergePatch(key, { status: patch }, 'status')) as unknown as Fleet;
      if (state) state.written = written;
      if (patch.revision) this.deps.log.info({ fleet: name, revision: patch.revision.id, commit: patch.revision.commit }, 'new revision');
    } catch (error) {
      this.deps.log.warn({ fleet: name, err: (error as Error).message }, 'could not write the Fleet status');
      return;
    }
    if (patch.revisions && fleet.metadata.uid) await this.collect({ name, uid: fleet.metadata.uid }, patch.revisions);
  }

  /** Deletes the Fleet's bundles no revision of any Fleet uses any more (bundles.ts: collect). */
  private async collect(fleet: { name: string; uid: string }, revisions: readonly Revision[]): Promise<void> {
    const keep = new Set(revisions.map((r) => r.bundle));
    for (const other of this.deps.fleets.list()) {
      if (other.metadata.name === fleet.name) continue; // its revisions are the ones just written
      for (const r of [other.status?.revision, ...(other.status?.revisions ?? [])]) if (r) keep.add(r.bundle);
    }
    for (const state of this.states.values()) if (state.built) keep.add(state.built.digest);
    try {
      const deleted = await this.deps.bundles.collect(fleet, keep);
      if (deleted.length > 0) this.deps.log.info({ fleet: fleet.name, deleted }, 'bundles no revision uses deleted');
    } catch (error) {
      this.deps.log.warn({ fleet: fleet.name, err: (error as Error).message }, 'could not delete unused bundles');
    }
  }
}
