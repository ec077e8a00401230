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

/** Newest first, at most `maxHistory` entries. */
export function appendHistory(history: SyncRecord[] | undefined, record: SyncRecord): SyncRecord[] {
  return [record, ...(history ?? [])].slice(0, maxHistory);
}
