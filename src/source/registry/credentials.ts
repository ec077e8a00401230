/**
 * Registry credentials from a dockerconfigjson: the `~/.docker/config.json` format that
 * Kubernetes stores in `kubernetes.io/dockerconfigjson` Secrets (key `.dockerconfigjson`)
 * and that `--registry-credentials FILE` reads.
 *
 *   {"auths": {"ghcr.io": {"auth": "<base64 user:password>"},
 *              "https://index.docker.io/v1/": {"username": "u", "password": "p"}}}
 *
 * Keys name registries in many spellings (`ghcr.io`, `https://ghcr.io`,
 * `http://127.0.0.1:5000/v2/`, `https://index.docker.io/v1/`); they are reduced to a
 * registry name (scheme and path dropped, lower-cased, every Docker Hub alias → `docker.io`)
 * and matched against the image's registry the same way. The legacy `.dockercfg` format
 * (the `auths` map at the top level) is read too. Nothing here ever puts a credential in a
 * message.
 */
import { DorisError } from '../../errors.js';
import { normalizeRegistry } from './reference.js';

export interface RegistryCredential {
  username: string;
  password: string;
}

/** Credentials by registry name (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
export type RegistryCredentialSet = ReadonlyMap<string, RegistryCredential>;

export const noRegistryCredentials: RegistryCredentialSet = new Map();

/** `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/v2/` → `127.0.0.1:5000`. */
export function registryKey(key: string): string {
  let host = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  return normalizeRegistry(host);
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

function credentialOf(entry: AuthEntry): RegistryCredential | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && entry.username !== '' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * Reads a dockerconfigjson (or legacy dockercfg). `source` names where it came from (a file,
 * `Secret ns/name`) in error messages; the content never appears in them. Entries without a
 * usable username and password (say, only an `identitytoken`) are skipped.
 */
export function parseDockerConfigJson(text: string, source = 'registry credentials'): RegistryCredentialSet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DorisError('ImageResolveFailed', `${source}: not valid JSON; expected a dockerconfigjson ({"auths": {"<registry>": {"auth": "..."}}})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DorisError('ImageResolveFailed', `${source}: expected a JSON object with an "auths" map`);
  }
  const record = parsed as Record<string, unknown>;
  const auths = 'auths' in record ? record.auths : record;
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new DorisError('ImageResolveFailed', `${source}: "auths" must be a map of registry → credentials`);
  }
  const credentials = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object') continue;
    const credential = credentialOf(entry as AuthEntry);
    const registry = registryKey(key);
    // The first spelling of a registry wins, as with docker's own lookup of exact keys.
    if (credential && registry !== '' && !credentials.has(registry)) credentials.set(registry, credential);
  }
  return credentials;
}

/**
 * Reads the dockerconfigjson of a Secret's `data` (base64, as the API returns it):
 * `.dockerconfigjson`, else `.dockercfg`.
 */
export function parseDockerConfigSecret(secret: { data?: Record<string, string> }, source: string): RegistryCredentialSet {
  const encoded = secret.data?.['.dockerconfigjson'] ?? secret.data?.['.dockercfg'];
  if (encoded === undefined) {
    throw new DorisError('ImageResolveFailed', `${source}: has no ".dockerconfigjson" key; create it with kubectl create secret docker-registry`);
  }
  return parseDockerConfigJson(Buffer.from(encoded, 'base64').toString('utf8'), source);
}

/** The credential for a registry (any spelling of it), if the set has one. */
export function credentialFor(credentials: RegistryCredentialSet, registry: string): RegistryCredential | undefined {
  return credentials.get(registryKey(registry));
}
