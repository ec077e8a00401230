/**
 * kstatus-style conditions on a Pipeline, computed as plain data:
 * - `Ready`: True after a successful sync; False with the reason of the last failure.
 * - `Reconciling`: True while a sync runs.
 * - `Stalled`: True when the last sync failed in a way a retry alone will not fix.
 * A condition keeps its `lastTransitionTime` while its status does not change.
 */
import type { Condition, SyncRecord } from '../api/pipeline.js';

export function setCondition(conditions: Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((c) => c.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const updated: Condition = { ...next, lastTransitionTime };
  return [...list.filter((c) => c.type !== next.type), updated].sort((a, b) => a.type.localeCompare(b.type));
}

export function removeCondition(conditions: Condition[] | undefined, type: Condition['type']): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export const maxHistory = 20;

/** Most lines and bytes of a message kept in status, history and Events. */
export const maxMessageLines = 20;
export const maxMessageBytes = 8 * 1024;

/**
 * A message small enough for status: the first lines (a commit with 100,000 problems must not
 * make the status write itself fail and leave the previous Ready=True standing), then a count
 * of what was left out.
 */
export function boundMessage(message: string, maxLines = maxMessageLines, maxBytes = maxMessageBytes): string {
  const lines = message.split('\n');
  const kept: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1;
    if (kept.length >= maxLines || bytes + size > maxBytes) break;
    kept.push(line);
    bytes += size;
  }
  if (kept.length === 0) kept.push(`${message.slice(0, Math.max(0, maxBytes / 4))}…`);
  const left = lines.length - kept.length;
  return left > 0 ? `${kept.join('\n')}\n… and ${left} more` : kept.join('\n');
}

/** Newest first, at most `maxHistory` entries. */
export function appendHistory(history: SyncRecord[] | undefined, record: SyncRecord): SyncRecord[] {
  return [record, ...(history ?? [])].slice(0, maxHistory);
}
