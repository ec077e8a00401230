/**
 * Registry notifications (the distribution `Envelope` of events): which repositories had
 * a manifest pushed. The request must carry the configured bearer token.
 */
import { timingSafeEqual } from 'node:crypto';

export function verifyBearer(expected: string, header: string | undefined): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

export interface PushedImage {
  /** `host/repository` when the event names the host, else the repository. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseRegistryEvents(payload: unknown): PushedImage[] {
  const events = (payload as { events?: unknown[] } | null)?.events;
  if (!Array.isArray(events)) return [];
  const pushed: PushedImage[] = [];
  for (const raw of events) {
    const e = raw as { action?: string; target?: { repository?: string; tag?: string; digest?: string; mediaType?: string }; request?: { host?: string } };
    if (e.action !== 'push' || !e.target?.repository) continue;
    // Blob pushes carry no tag and a layer media type; only manifests move a tag.
    if (e.target.mediaType && !/manifest|index/.test(e.target.mediaType)) continue;
    const host = e.request?.host;
    pushed.push({ repository: host ? `${host}/${e.target.repository}` : e.target.repository, tag: e.target.tag, digest: e.target.digest });
  }
  return pushed;
}
