/**
 * Status conditions: the `status.conditions[]` list that most controllers publish, each entry
 * a `type` with a `status` of "True", "False" or "Unknown", a CamelCase `reason` and a
 * human `message`.
 */

import { arrayField, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason: string;
  message: string;
}

/** The object's conditions; entries without a string `type` are ignored. */
export function conditionsOf(obj: KubeObject): Condition[] {
  const conditions: Condition[] = [];
  for (const entry of arrayField(obj, ['status', 'conditions'])) {
    const type = stringField(entry, ['type']);
    if (type === '') continue;
    conditions.push({
      type,
      status: stringField(entry, ['status']),
      reason: stringField(entry, ['reason']),
      message: stringField(entry, ['message']),
    });
  }
  return conditions;
}

/** The first condition of the given type, if any. */
export function findCondition(obj: KubeObject, type: string): Condition | undefined {
  return conditionsOf(obj).find((c) => c.type === type);
}

/** "reason: message", or whichever of the two is present, or `fallback`. */
export function describeCondition(c: Condition, fallback: string): string {
  if (c.reason !== '' && c.message !== '') return `${c.reason}: ${c.message}`;
  if (c.message !== '') return c.message;
  if (c.reason !== '') return c.reason;
  return fallback;
}
