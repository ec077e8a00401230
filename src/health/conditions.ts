/**
 * Status conditions: the `status.conditions[]` list that most controllers publish, each entry
 * a `type` with a `status` of "True", "False" or "Unknown", a CamelCase `reason` and a
 * human `message`.
 */

import { arrayField } from './fields.js';
import type { KubeObject } from '../render/types.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason: string;
  message: string;
}

const text = (entry: Record<string, unknown>, key: string) => (typeof entry[key] === 'string' ? (entry[key] as string) : '');

function conditionOf(entry: unknown): Condition | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  const type = text(e, 'type');
  return type === '' ? undefined : { type, status: text(e, 'status'), reason: text(e, 'reason'), message: text(e, 'message') };
}

/**
 * The first condition of the given type, if any. Health reads every object of a wave this way
 * on every resync: only the entry asked for is turned into a Condition.
 */
export function findCondition(obj: KubeObject, type: string): Condition | undefined {
  return firstCondition(obj, type, undefined);
}

/** The first condition of the given type whose status is "True", if any. */
export function trueCondition(obj: KubeObject, type: string): Condition | undefined {
  return firstCondition(obj, type, 'True');
}

function firstCondition(obj: KubeObject, type: string, status: string | undefined): Condition | undefined {
  for (const entry of arrayField(obj, ['status', 'conditions'])) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (e.type === type && (status === undefined || e.status === status)) return conditionOf(entry);
  }
  return undefined;
}

/** "reason: message", or whichever of the two is present, or `fallback`. */
export function describeCondition(c: Condition, fallback: string): string {
  if (c.reason !== '' && c.message !== '') return `${c.reason}: ${c.message}`;
  if (c.message !== '') return c.message;
  if (c.reason !== '') return c.reason;
  return fallback;
}
