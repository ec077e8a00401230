/**
 * Tracked images of a Pipeline: each rule of `spec.images` resolved to digests, with the
 * last known digest kept whenever the registry fails (a registry error never produces a
 * broken image reference), and the changes since the last sync (for Events and the audit
 * trail in status).
 *
 * Glob rules need the registry's catalog (a GET); to keep steady-state polling to HEAD
 * requests, the repositories a glob matched are remembered for `catalogTtlMs` and only
 * their tags are checked in between. A registry notification refreshes the catalog at once.
 */
import type { ImageChange, ImageStatus, PipelineSpec } from '../api/pipeline.js';
import type { TrackedImage, TrackedImages } from '../render/images.js';
import { RegistryClient, type RegistryClientOptions, type RegistryCredentialSet } from './registry/index.js';

export interface ImageResolution {
  images: ImageStatus[];
  tracked: TrackedImages;
  changes: ImageChange[];
  errors: string[];
}

type Rule = PipelineSpec['images'][number];

export interface ImageTrackerOptions {
  /** How long the repositories matched by a glob are reused before the catalog is listed again. */
  catalogTtlMs: number;
  client: Partial<RegistryClientOptions>;
}

export function defaultImageTrackerOptions(): ImageTrackerOptions {
  return { catalogTtlMs: 5 * 60_000, client: {} };
}

const ruleText = (rule: Rule) => `${rule.repository}:${rule.tag}`;

export class ImageTracker {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly catalogs = new Map<string, { at: number; repositories: Array<{ repository: string; namePrefix: string }> }>();

  constructor(
    private readonly credentialsFor: (rule: Rule) => Promise<RegistryCredentialSet>,
    private readonly options: ImageTrackerOptions = defaultImageTrackerOptions(),
  ) {}

  /** Forget what globs matched, so the next resolution lists the catalogs again. */
  refreshCatalogs(): void {
    this.catalogs.clear();
  }

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

  private async resolveRule(rule: Rule, signal?: AbortSignal): Promise<Array<{ repository: string; namePrefix: string; digest?: string; error?: string }>> {
    const client = await this.client(rule);
    const cached = this.catalogs.get(ruleText(rule));
    if (cached && Date.now() - cached.at < this.options.catalogTtlMs) {
      return Promise.all(
        cached.repositories.map(async (r) => {
          try {
            return { ...r, digest: await client.resolveDigest(r.repository, rule.tag, signal) };
          } catch (error) {
            return { ...r, error: (error as Error).message };
          }
        }),
      );
    }
    const result = await client.resolveRule({ repository: rule.repository, tag: rule.tag }, signal);
    this.catalogs.set(ruleText(rule), {
      at: Date.now(),
      repositories: [...result.resolved, ...result.failed].map((r) => ({ repository: r.repository, namePrefix: r.namePrefix })),
    });
    return [
      ...result.resolved.map((r) => ({ repository: r.repository, namePrefix: r.namePrefix, digest: r.digest })),
      ...result.failed.map((r) => ({ repository: r.repository, namePrefix: r.namePrefix, error: r.error.message })),
    ];
  }

  async resolve(rules: Rule[], lastKnown: ImageStatus[], signal?: AbortSignal, now = new Date()): Promise<ImageResolution> {
    const images: ImageStatus[] = [];
    const changes: ImageChange[] = [];
    const errors: string[] = [];
    for (const rule of rules) {
      const text = ruleText(rule);
      const previous = lastKnown.filter((i) => i.rule === text);
      let found: Awaited<ReturnType<ImageTracker['resolveRule']>>;
      try {
        found = await this.resolveRule(rule, signal);
      } catch (error) {
        // The whole rule failed (registry down, catalog refused): keep every last known digest.
        const message = (error as Error).message;
        errors.push(message);
        images.push(...previous.map((i) => ({ ...i, error: message })));
        continue;
      }
      for (const image of found) {
        const before = previous.find((i) => i.repository === image.repository);
        if (image.digest) {
          const changed = before?.digest !== image.digest;
          if (changed) changes.push({ repository: image.repository, tag: rule.tag, from: before?.digest, to: image.digest, at: now.toISOString() });
          images.push({ rule: text, repository: image.repository, tag: rule.tag, digest: image.digest, namePrefix: image.namePrefix, updatedAt: changed ? now.toISOString() : before?.updatedAt });
        } else {
          errors.push(image.error ?? `${image.repository}:${rule.tag}: not resolved`);
          images.push({ ...(before ?? { rule: text, repository: image.repository, tag: rule.tag, namePrefix: image.namePrefix }), error: image.error });
        }
      }
    }
    const tracked = new Map<string, TrackedImage>();
    for (const image of images) {
      if (image.digest) tracked.set(image.repository, { tag: image.tag, digest: image.digest, namePrefix: image.namePrefix });
    }
    return { images, tracked, changes, errors };
  }
}

export const maxImageHistory = 50;
