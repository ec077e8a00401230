/**
 * GitHub push webhooks: the signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body
 * with the shared secret, compared in constant time) and which Pipelines a push concerns
 * (same repository, same branch).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function githubSignature(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifyGithubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(githubSignature(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// Where a push's repository URLs are compared with the Pipelines' (re-exported for callers of this module).
export { normalizeRepoUrl } from '../source/repo-url.js';

export interface PushEvent {
  branch: string;
  /** The repository's URLs as GitHub sends them (clone, html, ssh, git). */
  repositories: string[];
  after?: string;
}

/** The branch and repository URLs of a push event payload; undefined for other shapes. */
export function parsePushEvent(payload: unknown): PushEvent | undefined {
  const p = payload as { ref?: unknown; after?: unknown; repository?: Record<string, unknown> } | null;
  if (!p || typeof p.ref !== 'string' || !p.ref.startsWith('refs/heads/') || !p.repository) return undefined;
  const repositories = ['clone_url', 'html_url', 'ssh_url', 'git_url', 'url']
    .map((key) => p.repository?.[key])
    .filter((v): v is string => typeof v === 'string');
  return { branch: p.ref.slice('refs/heads/'.length), repositories: [...new Set(repositories)], after: typeof p.after === 'string' ? p.after : undefined };
}
