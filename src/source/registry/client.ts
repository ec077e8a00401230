/**
 * `RegistryClient`: the one object the rest of DORIS asks about images — "which digest is
 * this tag at" and "which of these repositories does this rule cover, at which digests".
 *
 * It speaks the OCI distribution API over `fetch` (see docs/adr/0007-own-oci-client.md): any
 * v2 registry (Docker Hub, GHCR, Harbor, distribution), anonymous, basic or bearer-token
 * auth, no vendor APIs. A client holds one set of credentials (a dockerconfigjson) and
 * caches what it learns — each registry's challenge and bearer tokens per scope — so keep
 * one client per set of credentials for as long as you poll: the steady state is then one
 * HEAD per image and poll. It never lists a registry's repositories (`/v2/_catalog`): GHCR
 * and Docker Hub do not serve that, so the caller names the repositories a glob may cover.
 */
import pLimit from 'p-limit';
import { Authenticator } from './auth.js';
import { noRegistryCredentials, type RegistryCredentialSet } from './credentials.js';
import { resolveManifestDigest } from './digest.js';
import { ImageResolveError } from './errors.js';
import { parseImageReference } from './reference.js';
import type { RetryEvent } from './retry.js';
import { parseRulePattern, ruleCovers, type ImageRule } from './rule.js';
import { RegistryTransport } from './transport.js';
import { userAgent } from '../../version.js';

export interface RegistryClientOptions {
  /** Registry hosts (`host:port`) reached over plain http; loopback registries always are. */
  insecureRegistries: string[];
  /** Retries after the first attempt, on 429, 5xx and network errors. */
  maxRetries: number;
  /** Wait before the first retry; doubles on every further retry (with jitter). */
  initialBackoffMs: number;
  /** Longest wait between two attempts computed by backoff. */
  maxBackoffMs: number;
  /** Longest `Retry-After` honoured; a registry asking for more fails the call at once. */
  maxRetryAfterMs: number;
  /** Timeout of one HTTP attempt. */
  requestTimeoutMs: number;
  /** Repositories of a glob rule resolved at the same time. */
  concurrency: number;
  /** `User-Agent` of every request. */
  userAgent: string;
  /** Current time in ms, for token expiry (tests move it). */
  clock: () => number;
  /** Told about every retry before its wait (logs, tests). */
  onRetry: ((event: RetryEvent) => void) | undefined;
}

export function defaultRegistryClientOptions(): RegistryClientOptions {
  return {
    insecureRegistries: [],
    maxRetries: 3,
    initialBackoffMs: 500,
    maxBackoffMs: 8_000,
    maxRetryAfterMs: 30_000,
    requestTimeoutMs: 30_000,
    concurrency: 4,
    userAgent: userAgent(),
    clock: Date.now,
    onRetry: undefined,
  };
}

/** One repository a rule covers, at its tag's digest. */
export interface ResolvedImage {
  /** The repository as the rule writes it (`127.0.0.1:5000/acme/solar-influx`). */
  repository: string;
  tag: string;
  /** The rule's name prefix (`solar-` for `acme/solar-*`; empty for a plain repository). */
  namePrefix: string;
  digest: string;
}

/** One repository a rule covers whose digest could not be resolved this time. */
export interface UnresolvedImage {
  repository: string;
  tag: string;
  namePrefix: string;
  error: ImageResolveError;
}

export interface RuleResolution {
  resolved: ResolvedImage[];
  /** Keep the last known digest of these: a registry error never breaks an image reference. */
  failed: UnresolvedImage[];
}

export class RegistryClient {
  private readonly options: RegistryClientOptions;
  private readonly transport: RegistryTransport;

  constructor(credentials: RegistryCredentialSet = noRegistryCredentials, options: Partial<RegistryClientOptions> = {}) {
    this.options = { ...defaultRegistryClientOptions(), ...options };
    const o = this.options;
    const retry = {
      maxRetries: o.maxRetries,
      initialBackoffMs: o.initialBackoffMs,
      maxBackoffMs: o.maxBackoffMs,
      maxRetryAfterMs: o.maxRetryAfterMs,
      requestTimeoutMs: o.requestTimeoutMs,
      onRetry: o.onRetry,
    };
    const authenticator = new Authenticator({ credentials, insecureRegistries: o.insecureRegistries, retry, clock: o.clock });
    this.transport = new RegistryTransport({ authenticator, retry, insecureRegistries: o.insecureRegistries, userAgent: o.userAgent });
  }

  /**
   * The digest (`sha256:…`) `repository` (`ghcr.io/acme/app`, `nginx`) has at `tag`.
   * Throws `ImageResolveError` naming the image and the registry's status.
   */
  async resolveDigest(repository: string, tag: string, signal?: AbortSignal): Promise<string> {
    const subject = `${repository}:${tag}`;
    let reference: ReturnType<typeof parseImageReference>;
    try {
      reference = parseImageReference(`${repository}:${tag}`);
    } catch (error) {
      throw new ImageResolveError(subject, error instanceof Error ? error.message : String(error));
    }
    if (reference.digest !== undefined || reference.tag !== tag) {
      throw new ImageResolveError(subject, 'name the repository without a tag or digest');
    }
    return resolveManifestDigest(this.transport, reference, tag, subject, signal);
  }

  /**
   * The repositories `rule` covers, each with its digest at `rule.tag`: the rule's own
   * repository for a plain rule; for a glob, those of `candidates` (references as the
   * rendered manifests write them, `127.0.0.1:5000/acme/solar-influx`, without tags: the
   * caller picks those at the rule's tag) that it matches.
   * A repository that fails is reported in `failed`; an invalid rule throws `ImageResolveError`.
   */
  async resolveRule(rule: ImageRule, candidates: readonly string[] = [], signal?: AbortSignal): Promise<RuleResolution> {
    let pattern: ReturnType<typeof parseRulePattern>;
    try {
      pattern = parseRulePattern(rule.repository);
    } catch (error) {
      throw new ImageResolveError(rule.repository, error instanceof Error ? error.message : String(error));
    }
    const repositories = pattern.glob
      ? [...new Set(candidates.map((candidate) => ruleCovers(pattern, candidate)).filter((r): r is string => r !== undefined))].sort()
      : [rule.repository.trim()];
    const limit = pLimit(this.options.concurrency);
    const resolution: RuleResolution = { resolved: [], failed: [] };
    await Promise.all(
      repositories.map((repository) =>
        limit(async () => {
          const base = { repository, tag: rule.tag, namePrefix: pattern.namePrefix };
          try {
            resolution.resolved.push({ ...base, digest: await this.resolveDigest(repository, rule.tag, signal) });
          } catch (error) {
            const failure = error instanceof ImageResolveError ? error : new ImageResolveError(`${repository}:${rule.tag}`, String(error), { cause: error });
            resolution.failed.push({ ...base, error: failure });
          }
        }),
      ),
    );
    const byRepository = (a: { repository: string }, b: { repository: string }) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0);
    resolution.resolved.sort(byRepository);
    resolution.failed.sort(byRepository);
    return resolution;
  }
}
