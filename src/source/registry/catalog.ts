/**
 * The repositories of a registry: `GET /v2/_catalog?n=<page size>`, following the `Link:
 * <…>; rel="next"` header page by page (bounded, so a registry that links in circles cannot
 * keep us busy). A bearer registry wants the `registry:catalog:*` scope for it. Not every
 * registry serves a catalog (Docker Hub does not): globs need one that does.
 */
import type { AuthTarget } from './auth.js';
import { ImageResolveError, explainStatus } from './errors.js';
import type { RegistryTransport } from './transport.js';

export interface CatalogOptions {
  /** Repositories asked for per page (`n`). */
  pageSize: number;
  /** Most pages read; the rest of the catalog is ignored. */
  maxPages: number;
}

/** The `rel="next"` target of a `Link` header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*(.*)$/.exec(part.trim());
    if (match?.[1] !== undefined && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

export async function listRepositories(
  transport: RegistryTransport,
  registry: { registry: string; apiHost: string },
  subject: string,
  options: CatalogOptions,
  signal?: AbortSignal,
): Promise<string[]> {
  const target: AuthTarget = { ...registry, scope: 'registry:catalog:*', subject };
  const repositories: string[] = [];
  const seen = new Set<string>();
  let path: string | undefined = `/v2/_catalog?n=${options.pageSize}`;
  for (let page = 0; path !== undefined && page < options.maxPages && !seen.has(path); page += 1) {
    seen.add(path);
    const response = await transport.send(target, 'GET', path, { accept: 'application/json' }, signal);
    if (response.status !== 200) {
      const hint = response.status === 404 || response.status === 401 || response.status === 403 ? ' (glob rules need a registry that lists its repositories at /v2/_catalog)' : '';
      throw new ImageResolveError(subject, `listing repositories: the registry answered ${response.status}: ${explainStatus(response.status)}${hint}`, {
        status: response.status,
      });
    }
    let body: { repositories?: unknown };
    try {
      body = JSON.parse(response.body.toString('utf8')) as typeof body;
    } catch {
      throw new ImageResolveError(subject, 'listing repositories: the registry answered with something that is not JSON', { status: 200 });
    }
    if (Array.isArray(body.repositories)) {
      for (const name of body.repositories) if (typeof name === 'string') repositories.push(name);
    }
    path = nextLink(response.headers.get('link'));
  }
  return repositories;
}
