/**
 * Which `Authorization` header a request to a registry carries.
 *
 * The first request to a registry goes out anonymously. If the registry answers 401, its
 * `WWW-Authenticate` challenge says how to authenticate — `Basic` (send the credentials) or
 * `Bearer` (get a token for the request's scope from the named token service) — and the
 * request is sent once more with that. The challenge is remembered per registry, so later
 * requests authenticate up front: in the steady state every digest check is one request
 * (a cached token or basic credentials, no 401 round trip).
 */
import { parseWwwAuthenticate, type Challenge } from './challenge.js';
import { credentialFor, type RegistryCredentialSet } from './credentials.js';
import { ImageResolveError } from './errors.js';
import type { RetryOptions } from './retry.js';
import { requestToken, TokenCache } from './token.js';

/** What a request is for: the registry it goes to and the token scope it needs. */
export interface AuthTarget {
  /** Registry name, for credentials (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Host of the registry API. */
  apiHost: string;
  /** Token scope: `repository:<name>:pull`. */
  scope: string;
  /** The image or registry this is for (in errors). */
  subject: string;
}

export interface AuthenticatorOptions {
  credentials: RegistryCredentialSet;
  insecureRegistries: readonly string[];
  retry: RetryOptions;
  /** Current time in ms (token expiry). */
  clock: () => number;
}

export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new TokenCache();

  constructor(private readonly options: AuthenticatorOptions) {}

  /** The header to send up front: undefined until the registry has asked for authentication. */
  async authorize(target: AuthTarget, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenges.get(target.apiHost);
    if (!challenge) return undefined;
    return this.headerFor(challenge, target, false, signal);
  }

  /**
   * After a 401: remembers the registry's challenge and returns the header to send the request
   * again with (a fresh token for bearer). Throws when the challenge cannot be answered.
   */
  async answer(target: AuthTarget, wwwAuthenticate: string | null, signal?: AbortSignal): Promise<string> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate ?? '');
    const challenge = challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) {
      throw new ImageResolveError(target.subject, 'the registry answered 401 without a Basic or Bearer challenge we can answer', { status: 401 });
    }
    this.challenges.set(target.apiHost, challenge);
    return this.headerFor(challenge, target, true, signal);
  }

  private async headerFor(challenge: Challenge, target: AuthTarget, fresh: boolean, signal?: AbortSignal): Promise<string> {
    const credential = credentialFor(this.options.credentials, target.registry);
    if (challenge.scheme === 'basic') {
      if (!credential) {
        throw new ImageResolveError(target.subject, `the registry answered 401: it requires credentials and none are configured for ${target.registry}`, {
          status: 401,
        });
      }
      return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    const key = `${target.apiHost} ${target.scope}`;
    if (fresh) this.tokens.delete(key);
    const cached = this.tokens.get(key, this.options.clock());
    if (cached) return `Bearer ${cached}`;
    const issued = await requestToken(
      {
        subject: target.subject,
        realm: challenge.params.realm ?? '',
        service: challenge.params.service,
        scope: target.scope,
        credential,
        insecureRegistries: this.options.insecureRegistries,
      },
      this.options.retry,
      signal,
    );
    this.tokens.set(key, issued.token, issued.lifetimeMs, this.options.clock());
    return `Bearer ${issued.token}`;
  }
}
