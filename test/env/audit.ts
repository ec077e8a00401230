/**
 * Reading the API server's audit log (see the policy in cluster.ts): which writes happened,
 * by whom, in which order. Lets tests prove "nothing else was written" and "wave 2 was
 * written after wave 1 was healthy" from the server's own record.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  responseObject?: { status?: Record<string, unknown> };
}

/** Marks the current end of the log; `readAuditSince(mark)` returns what came after. */
export function auditMark(path: string): number {
  try {
    // The log grows to hundreds of MB in a full run: its size, not its bytes.
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function readAuditSince(path: string, mark: number): AuditEvent[] {
  // Only the bytes after the mark: the shared log reaches gigabytes over a day of runs.
  const fd = openSync(path, 'r');
  let text: string;
  try {
    const length = Math.max(0, fstatSync(fd).size - mark);
    const bytes = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, bytes, read, length - read, mark + read);
      if (n === 0) break;
      read += n;
    }
    text = bytes.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete');
}

/** Writes by `user` that really changed something (not dry-runs, not refused). */
export function writesBy(events: AuditEvent[], user: string): AuditEvent[] {
  return events.filter(
    (e) =>
      e.user.username === user &&
      ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb) &&
      !/[?&]dryRun=/.test(e.requestURI) &&
      (e.responseStatus?.code ?? 0) < 300,
  );
}
