/**
 * Tracked images of a Pipeline: each rule of `spec.images` resolved to digests, with the
 * last known digest kept whenever the registry fails (a registry error never produces a
 * broken image reference), and the changes since the last sync (for Events and the audit
 * trail in status).
 *
 * Which repositories a rule tracks: a plain rule, its own repository; a glob rule, the
 * repositories the rendered manifests name at the rule's tag that it matches, and for each
 * `image: image_url_var` placeholder the repository its `app` label names under the glob
 * (see registry/rule.ts). The registry's catalog is never asked: GHCR and Docker Hub do not
 * serve `/v2/_catalog`, and steady polling stays at one HEAD per image. A sync passes the
 * rendered objects; the image poller between syncs passes none and checks the repositories
 * of the last render (after a restart, those the Pipeline's status lists).
 *
 * A digest that cannot be resolved is either `kept` (a digest was known: it stays in use) or
 * `unresolved` (none ever was, as on a first sync: the image is applied as written, unpinned,
 * and a placeholder that stands for it fails the render).
 */
import type { ImageChange, ImageStatus, PipelineSpec } from '../api/pipeline.js';
import { referencedImages, type TrackedImage, type TrackedImages } from '../render/images.js';
import type { DesiredObject } from '../render/types.js';
import { RegistryClient, type RegistryClientOptions, type RegistryCredentialSet } from './registry/index.js';
import { placeholderRepository, parseRulePattern, ruleCovers } from './registry/rule.js';
import { tryParseImageReference } from './registry/reference.js';

/** One tracked image whose digest could not be resolved this time. */
export interface ImageFailure {
  /** The rule that tracks it, as written (`ghcr.io/acme/solar-*:main`). */
  rule: string;
  repository: string;
  tag: string;
  /** The registry's error, naming the image. */
  error: string;
}

export interface ImageResolution {
  images: ImageStatus[];
  tracked: TrackedImages;
  changes: ImageChange[];
  /** Failed, with a last known digest that stays in use. */
  kept: ImageFailure[];
  /** Failed, with no digest ever known: applied as written (unpinned) until one resolves. */
  unresolved: ImageFailure[];
  /** The message of every failure, kept and unresolved alike. */
  errors: string[];
}

export interface ResolveOptions {
  /**
   * The rendered objects of this sync: the images they name decide what glob rules track.
   * Without them (the image poller), the repositories of the last render are checked.
   */
  rendered?: readonly DesiredObject[];
  /** The time recorded for digest changes. */
  now?: Date;
}

type Rule = PipelineSpec['images'][number];

export interface ImageTrackerOptions {
  /** Options of the registry clients (retries, timeouts, insecure registries). */
  client: Partial<RegistryClientOptions>;
}

export function defaultImageTrackerOptions(): ImageTrackerOptions {
  return { client: {} };
}

const ruleText = (rule: Rule) => `${rule.repository}:${rule.tag}`;

/** The repositories a rule covers among the render's references (see the module header). */
function candidatesOf(rule: Rule, rendered: readonly DesiredObject[]): string[] {
  let pattern: ReturnType<typeof parseRulePattern>;
  try {
    pattern = parseRulePattern(rule.repository);
  } catch {
    return [rule.repository.trim()];
  }
  if (!pattern.glob) return [rule.repository.trim()];
  const { images, placeholderApps } = referencedImages(rendered);
  const found = new Set<string>();
  for (const image of images) {
    if ((tryParseImageReference(image)?.tag ?? 'latest') !== rule.tag) continue;
    const repository = ruleCovers(pattern, image);
    if (repository !== undefined) found.add(repository);
  }
  for (const app of placeholderApps) {
    const repository = placeholderRepository(pattern, app);
    if (repository !== undefined) found.add(repository);
  }
  return [...found].sort();
}

export class ImageTracker {
  private readonly clients = new Map<string, RegistryClient>();
  /** Per rule: the repositories the last render gave it, for polls between syncs. */
  private readonly lastCandidates = new Map<string, string[]>();

  constructor(
    private readonly credentialsFor: (rule: Rule) => Promise<RegistryCredentialSet>,
    private readonly options: ImageTrackerOptions = defaultImageTrackerOptions(),
  ) {}

  private async client(rule: Rule): Promise<RegistryClient> {
    // One client per credentials: its token cache is what keeps steady polling at one HEAD per image.
    const key = rule.secretRef?.name ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = new RegistryClient(await this.credentialsFor(rule), this.options.client);
      this.clients.set(key, client);
    }
    return client;
  }

  /** Each candidate repository with its digest, or the error that kept it from one. */
  private async resolveRule(
    rule: Rule,
    candidates: string[],
    signal?: AbortSignal,
  ): Promise<Array<{ repository: string; namePrefix: string; digest?: string; error?: string }>> {
    let namePrefix = '';
    try {
      namePrefix = parseRulePattern(rule.repository).namePrefix;
      const result = await (await this.client(rule)).resolveRule({ repository: rule.repository, tag: rule.tag }, candidates, signal);
      return [
        ...result.resolved.map((r) => ({ repository: r.repository, namePrefix: r.namePrefix, digest: r.digest })),
        ...result.failed.map((r) => ({ repository: r.repository, namePrefix: r.namePrefix, error: r.error.message })),
      ];
    } catch (error) {
      // The whole rule failed (invalid, credentials unreadable): every repository fails with it.
      const message = (error as Error).message;
      return candidates.map((repository) => ({ repository, namePrefix, error: message }));
    }
  }

  async resolve(rules: Rule[], lastKnown: ImageStatus[], signal?: AbortSignal, options: ResolveOptions = {}): Promise<ImageResolution> {
    const now = options.now ?? new Date();
    const images: ImageStatus[] = [];
    const changes: ImageChange[] = [];
    const kept: ImageFailure[] = [];
    const unresolved: ImageFailure[] = [];
    for (const rule of rules) {
      const text = ruleText(rule);
      const previous = lastKnown.filter((i) => i.rule === text);
      let candidates: string[];
      if (options.rendered) {
        candidates = candidatesOf(rule, options.rendered);
        this.lastCandidates.set(text, candidates);
      } else {
        const own = candidatesOf(rule, []); // a plain rule's repository; nothing for a glob
        candidates = this.lastCandidates.get(text) ?? (own.length > 0 ? own : [...new Set(previous.map((i) => i.repository))]);
      }
      for (const image of await this.resolveRule(rule, candidates, signal)) {
        const before = previous.find((i) => i.repository === image.repository);
        if (image.digest) {
          const changed = before?.digest !== image.digest;
          if (changed) changes.push({ repository: image.repository, tag: rule.tag, from: before?.digest, to: image.digest, at: now.toISOString() });
          images.push({
            rule: text,
            repository: image.repository,
            tag: rule.tag,
            digest: image.digest,
            namePrefix: image.namePrefix,
            updatedAt: changed ? now.toISOString() : before?.updatedAt,
          });
          continue;
        }
        const error = image.error ?? `${image.repository}:${rule.tag}: not resolved`;
        const failure = { rule: text, repository: image.repository, tag: rule.tag, error };
        if (before?.digest) {
          kept.push(failure);
          images.push({ ...before, error });
        } else {
          unresolved.push(failure);
          images.push({ rule: text, repository: image.repository, tag: rule.tag, namePrefix: image.namePrefix, error });
        }
      }
    }
    const tracked = new Map<string, TrackedImage>();
    for (const image of images) {
      // Two rules may cover one repository: a digest beats a failure.
      if (tracked.get(image.repository)?.digest !== undefined) continue;
      tracked.set(image.repository, {
        tag: image.tag,
        ...(image.digest ? { digest: image.digest } : {}),
        ...(image.namePrefix ? { namePrefix: image.namePrefix } : {}),
        ...(image.error && !image.digest ? { error: image.error } : {}),
      });
    }
    return { images, tracked, changes, kept, unresolved, errors: [...kept, ...unresolved].map((f) => f.error) };
  }
}

export const maxImageHistory = 50;

/** What a sync needs of a tracker: the registry's (ImageTracker) or a hub's chosen digests (source/hub.ts). */
export type ImageResolver = Pick<ImageTracker, 'resolve'>;
