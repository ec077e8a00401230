/**
 * kstatus-style conditions on a Pipeline, computed as plain data:
 * - `Ready`: True when the newest commit of the current generation is applied and healthy;
 *   Unknown (reason Progressing) while a new commit or generation is being applied, so that
 *   `kubectl wait --for=condition=Ready` waits for it; False with the reason of the last failure.
 * - `Reconciling`: True while a sync that writes runs.
 * - `Stalled`: True when the last sync failed in a way a retry alone will not fix. Never
 *   together with Reconciling=True: a sync that starts again is no longer stalled.
 * Every condition carries the generation it speaks for (`observedGeneration`), and keeps its
 * `lastTransitionTime` while its status does not change.
 */
import type { Condition, SyncRecord } from '../api/pipeline.js';
import { Reasons } from '../api/reasons.js';
import { compareStrings } from '../compare.js';

export function setCondition(conditions: Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((c) => c.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const updated: Condition = { ...next, lastTransitionTime };
  return [...list.filter((c) => c.type !== next.type), updated].sort((a, b) => compareStrings(a.type, b.type));
}

/**
 * A sync of a new commit or generation has started: Ready is Unknown (Progressing) unless
 * `keepReady` (a retry of the commit that already failed keeps its False and reason until it
 * ends), Reconciling is True, Stalled is gone.
 */
export function progressingConditions(
  conditions: Condition[] | undefined,
  message: string,
  observedGeneration: number | undefined,
  now: Date,
  keepReady = false,
): Condition[] {
  let next = setCondition(conditions, { type: 'Reconciling', status: 'True', reason: Reasons.Progressing, message, observedGeneration }, now);
  if (!keepReady) next = setCondition(next, { type: 'Ready', status: 'Unknown', reason: Reasons.Progressing, message, observedGeneration }, now);
  return removeCondition(next, 'Stalled');
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

/**
 * Newest first, at most `maxHistory` entries. The same commit failing again with the same
 * reason updates the newest entry (count, firstTime; times, message and counts of the last
 * attempt) instead of adding one: a commit retried every few minutes for a day must not push
 * the last success out of the history.
 */
export function appendHistory(history: SyncRecord[] | undefined, record: SyncRecord): SyncRecord[] {
  const [newest, ...older] = history ?? [];
  if (newest && newest.commit === record.commit && newest.result === record.result && record.result !== Reasons.Succeeded) {
    const merged: SyncRecord = { ...record, count: (newest.count ?? 1) + (record.count ?? 1), firstTime: newest.firstTime ?? newest.startedAt };
    return [merged, ...older].slice(0, maxHistory);
  }
  return [record, ...(history ?? [])].slice(0, maxHistory);
}
