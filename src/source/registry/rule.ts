/**
 * Image rules (`spec.images[]`): a repository (`ghcr.io/acme/app`) or a glob over a
 * registry's repositories (`ghcr.io/acme/solar-*`), and the tag to follow.
 *
 * In a glob, `*` matches any run of characters within one path segment and `?` one
 * character; the registry host is never a glob. The rule's *name prefix* is the literal part
 * of the last segment before its first wildcard (`solar-` for `acme/solar-*`, empty for a
 * plain repository): an image found by the rule is also known by its last segment with
 * that prefix removed, which is what `image: image_url_var` placeholders match against the
 * workload's `app` label (`acme/solar-influx` → `influx`).
 *
 * A glob is never expanded by asking the registry for its repositories: GHCR and Docker Hub
 * do not serve `/v2/_catalog`. The repositories a glob tracks are the ones the rendered
 * manifests name (`ruleCovers`), and for a placeholder the glob's directory joined with the
 * prefix and the `app` label (`placeholderRepository`).
 */
import { DorisError } from '../../errors.js';
import { apiHostOf, dockerHubRegistry, normalizeRegistry, parseImageReference, splitRegistry, tryParseImageReference } from './reference.js';

export interface ImageRule {
  /** A repository or a glob, with its registry host (Docker Hub when none). */
  repository: string;
  /** The tag to follow. */
  tag: string;
}

export interface RulePattern {
  /** The registry host as the rule writes it (empty for Docker Hub without a host). */
  host: string;
  /** Registry name (`docker.io` for Docker Hub). */
  registry: string;
  apiHost: string;
  /** Repository path or glob inside the registry (`acme/solar-*`). */
  path: string;
  /** True when `path` has wildcards: the rule covers the repositories the manifests name. */
  glob: boolean;
  /** The literal start of the last segment before its first wildcard; empty if none. */
  namePrefix: string;
  /** Matches repository paths of the registry. */
  matcher: RegExp;
}

export function isGlob(text: string): boolean {
  return /[*?]/.test(text);
}

/** `acme/solar-*` → /^acme\/solar-[^/]*$/ */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Literal start of the last path segment, up to its first wildcard; empty without one. */
export function namePrefixOf(path: string): string {
  const last = path.slice(path.lastIndexOf('/') + 1);
  const wildcard = last.search(/[*?]/);
  return wildcard < 0 ? '' : last.slice(0, wildcard);
}

export function parseRulePattern(repository: string): RulePattern {
  const { host, path: written } = splitRegistry(repository.trim());
  const registry = normalizeRegistry(host ?? dockerHubRegistry);
  if (isGlob(host ?? '')) throw new DorisError('InvalidSpec', `image rule "${repository}": the registry host cannot be a glob`);
  const path = registry === dockerHubRegistry && !written.includes('/') ? `library/${written}` : written;
  const glob = isGlob(path);
  if (glob) {
    // Check the literal parts as a reference would be checked.
    const sample = path.replace(/[*?]/g, 'x');
    parseImageReference(`${host ? `${host}/` : ''}${sample}`);
  } else {
    const reference = parseImageReference(repository);
    if (reference.tag !== undefined || reference.digest !== undefined) {
      throw new DorisError('InvalidSpec', `image rule "${repository}": name the repository only; the tag goes in "tag"`);
    }
  }
  return { host: host ?? '', registry, apiHost: apiHostOf(registry), path, glob, namePrefix: namePrefixOf(path), matcher: globToRegExp(path) };
}

/**
 * The repository `image` names (a reference as a manifest or a registry notification writes
 * it, with or without tag), as the rule writes it (the rule's host, the image's path), when
 * the rule covers it: the same registry and a path its glob (or literal path) matches.
 */
export function ruleCovers(pattern: RulePattern, image: string): string | undefined {
  const reference = tryParseImageReference(image);
  if (!reference || reference.registry !== pattern.registry || !pattern.matcher.test(reference.repository)) return undefined;
  return ruleRepository(pattern, reference.repository);
}

/**
 * Whether `repository` (`host/path` as a registry notification names it) is one a rule
 * tracks: the same registry, and a path its glob (or literal path) matches.
 */
export function ruleMatches(rule: string, repository: string): boolean {
  let pattern: RulePattern;
  try {
    pattern = parseRulePattern(rule);
  } catch {
    return false;
  }
  return ruleCovers(pattern, repository) !== undefined;
}

/** How a rule writes one of its repositories: the rule's host and the repository's path. */
export function ruleRepository(pattern: RulePattern, path: string): string {
  return pattern.host ? `${pattern.host}/${path}` : path;
}

/**
 * The repository an `image: image_url_var` placeholder with this `app` label stands for under
 * a glob rule: the glob's directory joined with the label when that already matches the glob
 * (`solar-influx` under `acme/solar-*`), else with the name prefix and the label (`influx` →
 * `acme/solar-influx`). Undefined when neither matches, or when the directory itself has a
 * wildcard (`acme/*-team/app-*`): such a repository cannot be named without a catalog.
 */
export function placeholderRepository(pattern: RulePattern, app: string): string | undefined {
  if (!pattern.glob || app === '') return undefined;
  const slash = pattern.path.lastIndexOf('/');
  const directory = slash < 0 ? '' : pattern.path.slice(0, slash + 1);
  if (isGlob(directory)) return undefined;
  for (const name of [app, `${pattern.namePrefix}${app}`]) {
    const path = `${directory}${name}`;
    if (pattern.matcher.test(path) && tryParseImageReference(`${pattern.registry}/${path}`)) return ruleRepository(pattern, path);
  }
  return undefined;
}
