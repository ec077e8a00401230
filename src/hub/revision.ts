/**
 * Revision ids: what names "the same thing to run" across hub replicas and restarts. A
 * revision is a commit, the bundle of its wave folder and the digests of the tracked images;
 * its id is `r-` + the first 16 hex digits of sha256 over those three (the image list sorted,
 * so rule order does not matter). It is the target's ETag, so it must be a pure function of
 * content: two replicas resolving the same upstream state agree without talking.
 */
import { createHash } from 'node:crypto';
import type { ImageStatus } from '../api/pipeline.js';
import type { Revision } from '../api/hub.js';

export const revisionIdPattern = /^r-[0-9a-f]{16}$/;

export function revisionId(commit: string, bundleDigest: string, images: ReadonlyArray<Pick<ImageStatus, 'repository' | 'digest'>>): string {
  const pinned = [...new Set(images.filter((i) => i.digest).map((i) => `${i.repository}@${i.digest}`))].sort();
  const hash = createHash('sha256');
  // NUL-separated: no field can contain a NUL, so no two inputs hash the same text.
  hash.update(['doris-revision-v1', commit, bundleDigest, ...pinned].join('\0'));
  return `r-${hash.digest('hex').slice(0, 16)}`;
}

/** The ids a rollout still refers to: any revision id anywhere in `status.rollout` (its shape belongs to the rollout work). */
export function revisionsReferenced(rollout: unknown): Set<string> {
  const found = new Set<string>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 20) return;
    if (typeof value === 'string') {
      if (revisionIdPattern.test(value)) found.add(value);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
    } else if (value && typeof value === 'object') {
      for (const item of Object.values(value)) visit(item, depth + 1);
    }
  };
  visit(rollout, 0);
  return found;
}

/**
 * `status.revisions` after `revision` is resolved: it first, then the previous ones, newest
 * first, at most `max` — except that a revision a rollout still references is never dropped.
 */
export function nextRevisions(revision: Revision, previous: readonly Revision[], rollout: unknown, max = 10): Revision[] {
  const keep = revisionsReferenced(rollout);
  const out: Revision[] = [revision];
  for (const r of previous) {
    if (r.id === revision.id || out.some((o) => o.id === r.id)) continue;
    if (out.length < max || keep.has(r.id)) out.push(r);
  }
  return out;
}
