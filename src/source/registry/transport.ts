/**
 * Authenticated requests to a registry's API: the base URL (http for loopback and listed
 * insecure registries, https otherwise), the `Authorization` header from the
 * `Authenticator` (sent up front once the registry's challenge is known, or after a 401),
 * and retries from `fetchWithRetries`. A request that is still refused after authenticating
 * comes back as it is; the caller turns its status into an error.
 */
import type { Authenticator, AuthTarget } from './auth.js';
import { registryBaseUrl } from './reference.js';
import { fetchWithRetries, type RegistryResponse, type RetryOptions, registryBodyLimits } from './retry.js';

export interface TransportOptions {
  authenticator: Authenticator;
  retry: RetryOptions;
  insecureRegistries: readonly string[];
  userAgent: string;
}

export class RegistryTransport {
  constructor(private readonly options: TransportOptions) {}

  /** The API root of a registry host: `https://ghcr.io`, `http://127.0.0.1:5000`. */
  baseUrl(apiHost: string): string {
    return registryBaseUrl(apiHost, this.options.insecureRegistries);
  }

  /** Sends `method path` (path from `/v2/…`, or an absolute URL on the same registry). */
  async send(target: AuthTarget, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<RegistryResponse> {
    const url = new URL(path, this.baseUrl(target.apiHost)).toString();
    const attempt = (authorization: string | undefined): Promise<RegistryResponse> =>
      fetchWithRetries(
        target.subject,
        url,
        { method, headers: { 'user-agent': this.options.userAgent, ...headers, ...(authorization ? { authorization } : {}) } },
        this.options.retry,
        signal,
        registryBodyLimits,
      );
    const first = await attempt(await this.options.authenticator.authorize(target, signal));
    if (first.status !== 401) return first;
    return attempt(await this.options.authenticator.answer(target, first.headers.get('www-authenticate'), signal));
  }
}
