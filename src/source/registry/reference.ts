/**
 * Image references, the way Docker and the kubelet read them.
 *
 * `nginx`, `nginx:1.25`, `docker.io/library/nginx`, `index.docker.io/library/nginx` and
 * `registry-1.docker.io/library/nginx` all name one repository on Docker Hub, whose API
 * lives at `registry-1.docker.io`; single-segment Hub names get the `library/` prefix. The
 * first path segment is a registry host only when it contains a `.` or a `:`, or is
 * `localhost` (`127.0.0.1:5000/acme/app`, `ghcr.io/acme/app`, `localhost/app`); otherwise
 * the whole reference is a Docker Hub repository (`acme/app`).
 *
 * Registries on loopback (`localhost`, `127.0.0.0/8`, `::1`) are reached over plain http,
 * others over https unless listed as insecure.
 */
import { DorisError } from '../../errors.js';

export const dockerHubRegistry = 'docker.io';
export const dockerHubApiHost = 'registry-1.docker.io';
const dockerHubAliases = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export interface ImageReference {
  /** Registry name, lower-cased; `docker.io` for every Docker Hub alias. */
  registry: string;
  /** Host (and port) that serves the registry API: `registry-1.docker.io` for Docker Hub. */
  apiHost: string;
  /** Repository path inside the registry: `acme/app`, `library/nginx`. */
  repository: string;
  /** The tag, when the reference has one. */
  tag?: string;
  /** The digest (`sha256:…`), when the reference is pinned. */
  digest?: string;
}

const componentPattern = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const repositoryPattern = new RegExp(`^${componentPattern}(?:/${componentPattern})*$`);
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const hostPattern = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)(?::\d{1,5})?$/;

/** Whether the first segment of a name is a registry host rather than a repository part. */
export function looksLikeHost(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment === 'localhost' || segment.startsWith('[');
}

/** `docker.io` for every Docker Hub alias; other hosts lower-cased. */
export function normalizeRegistry(host: string): string {
  const lower = host.toLowerCase();
  return dockerHubAliases.has(lower) ? dockerHubRegistry : lower;
}

/** The host that serves a registry's API. */
export function apiHostOf(registry: string): string {
  return normalizeRegistry(registry) === dockerHubRegistry ? dockerHubApiHost : registry.toLowerCase();
}

/** Splits `host/path` into the registry as written and the path (Docker Hub when no host). */
export function splitRegistry(name: string): { host: string | undefined; path: string } {
  const slash = name.indexOf('/');
  if (slash > 0 && looksLikeHost(name.slice(0, slash))) return { host: name.slice(0, slash), path: name.slice(slash + 1) };
  return { host: undefined, path: name };
}

/** Parses an image reference; `undefined` when it is not one (say, a placeholder). */
export function tryParseImageReference(text: string): ImageReference | undefined {
  try {
    return parseImageReference(text);
  } catch {
    return undefined;
  }
}

/** Parses an image reference; throws an `ImageResolveFailed` error saying what is wrong. */
export function parseImageReference(text: string): ImageReference {
  const fail = (why: string): never => {
    throw new DorisError('ImageResolveFailed', `invalid image reference "${text}": ${why}`);
  };
  let rest = text.trim();
  if (rest === '') fail('it is empty');
  let digest: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) fail(`"${digest}" is not a digest such as sha256:<64 hex>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) fail(`"${tag}" is not a valid tag`);
  }
  const { host, path } = splitRegistry(rest);
  if (host !== undefined && !hostPattern.test(host)) fail(`"${host}" is not a registry host`);
  const registry = normalizeRegistry(host ?? dockerHubRegistry);
  const repository = registry === dockerHubRegistry && !path.includes('/') ? `library/${path}` : path;
  if (!repositoryPattern.test(repository)) {
    fail(`"${path}" is not a repository name (lower-case letters, digits and . _ - separated by /)`);
  }
  const reference: ImageReference = { registry, apiHost: apiHostOf(registry), repository };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/** One name per repository whatever its spelling: `docker.io/library/nginx`. */
export function canonicalName(reference: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${reference.registry}/${reference.repository}`;
}

/** Whether a host (with or without port) is a loopback address. */
export function isLoopbackHost(host: string): boolean {
  let name = host.toLowerCase();
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'));
  else if (name.includes(':')) name = name.slice(0, name.lastIndexOf(':'));
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/.test(name);
}

/** `http://host` for loopback and listed insecure registries, `https://host` otherwise. */
export function registryBaseUrl(apiHost: string, insecureRegistries: readonly string[] = []): string {
  const insecure = isLoopbackHost(apiHost) || insecureRegistries.some((r) => apiHostOf(r) === apiHost.toLowerCase());
  return `${insecure ? 'http' : 'https'}://${apiHost}`;
}
