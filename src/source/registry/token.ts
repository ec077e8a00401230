/**
 * Bearer tokens (the Docker registry token protocol, used by Docker Hub, GHCR, Harbor, …):
 * the registry's `WWW-Authenticate: Bearer realm=…,service=…` names a token service; a GET
 * on `realm?service=…&scope=repository:<name>:pull` — with basic credentials when we have
 * them, anonymously otherwise — returns `{"token": …, "expires_in": …}`. Tokens are cached
 * per registry and scope and reused until shortly before they expire (`expires_in` counts
 * from when we received the token, so a skewed registry clock does not matter; 60 s when
 * absent, as the protocol says).
 */
import type { RegistryCredential } from './credentials.js';
import { ImageResolveError } from './errors.js';
import { isLoopbackHost } from './reference.js';
import { fetchWithRetries, type RetryOptions, tokenBodyLimits } from './retry.js';

/** Lifetime the protocol assumes when a token service does not say. */
export const defaultTokenLifetimeMs = 60_000;

interface CachedToken {
  token: string;
  usableUntil: number;
}

/** Tokens by `<registry host> <scope>`; a token is dropped once it is within 10% of expiry. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  get(key: string, now: number): string | undefined {
    const cached = this.tokens.get(key);
    if (!cached) return undefined;
    if (now < cached.usableUntil) return cached.token;
    this.tokens.delete(key);
    return undefined;
  }

  set(key: string, token: string, lifetimeMs: number, now: number): void {
    this.tokens.set(key, { token, usableUntil: now + lifetimeMs * 0.9 });
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}

export interface TokenRequest {
  /** The image or registry this is for (in errors). */
  subject: string;
  realm: string;
  service: string | undefined;
  scope: string;
  credential: RegistryCredential | undefined;
  /** Hosts that may be reached over plain http with credentials. */
  insecureRegistries: readonly string[];
}

export interface IssuedToken {
  token: string;
  lifetimeMs: number;
}

/** Asks the token service for a token; throws `ImageResolveError` naming the status. */
export async function requestToken(request: TokenRequest, retry: RetryOptions, signal?: AbortSignal): Promise<IssuedToken> {
  let url: URL;
  try {
    url = new URL(request.realm);
  } catch {
    throw new ImageResolveError(request.subject, 'the registry named a token service that is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ImageResolveError(request.subject, `the registry named a token service over ${url.protocol}; only http(s) is supported`);
  }
  if (url.protocol === 'http:' && request.credential && !isLoopbackHost(url.host) && !request.insecureRegistries.includes(url.host)) {
    throw new ImageResolveError(
      request.subject,
      `the token service ${url.host} uses plain http; refusing to send credentials (list it as an insecure registry to allow it)`,
    );
  }
  if (request.service) url.searchParams.set('service', request.service);
  url.searchParams.append('scope', request.scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.credential) {
    headers.authorization = `Basic ${Buffer.from(`${request.credential.username}:${request.credential.password}`).toString('base64')}`;
  }
  const response = await fetchWithRetries(request.subject, url.toString(), { method: 'GET', headers }, retry, signal, tokenBodyLimits);
  if (response.status === 401 || response.status === 403) {
    throw new ImageResolveError(
      request.subject,
      `the token service ${url.host} answered ${response.status}: ${request.credential ? 'the registry credentials were refused' : 'anonymous access was refused; configure credentials for this registry'}`,
      { status: response.status },
    );
  }
  if (response.status !== 200) {
    throw new ImageResolveError(request.subject, `the token service ${url.host} answered ${response.status}`, { status: response.status });
  }
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(response.body.toString('utf8')) as typeof body;
  } catch {
    throw new ImageResolveError(request.subject, `the token service ${url.host} answered with something that is not JSON`);
  }
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new ImageResolveError(request.subject, `the token service ${url.host} answered without a token`);
  }
  const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : undefined;
  return { token, lifetimeMs: seconds === undefined ? defaultTokenLifetimeMs : seconds * 1000 };
}
