/**
 * The device filter of the fleet view: a label selector as `kubectl get -l` spells it
 * (`site=north,tier!=lab`, `ring in (canary,early)`, `ring notin (lab)`, `gpu`, `!gpu`),
 * read into the structured selector the rollout policy uses (policy.ts `selects` matches it),
 * so that the page filters exactly as stage selectors select. What a person types is checked
 * like a selector in a Fleet: a bad key or value is refused with the part that is wrong.
 */
import { isLabelValue, labelKeyRuleBroken } from '../protocol.js';
import type { Selector } from '../rollout/policy.js';

export class SelectorError extends Error {
  readonly code = 'BadSelector';
}

function key(text: string, whole: string): string {
  const k = text.trim();
  const rule = k === '' ? 'it is empty' : labelKeyRuleBroken(k);
  if (rule) throw new SelectorError(`${JSON.stringify(k.slice(0, 320))} in ${JSON.stringify(whole)} is not a label key: ${rule}`);
  return k;
}

function value(text: string, whole: string): string {
  const v = text.trim();
  if (!isLabelValue(v)) throw new SelectorError(`${JSON.stringify(v.slice(0, 80))} in ${JSON.stringify(whole)} is not a label value`);
  return v;
}

/** Splits at commas outside parentheses. */
function requirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0 || depth > 1) throw new SelectorError(`unbalanced parentheses in ${JSON.stringify(text)}`);
  }
  if (depth !== 0) throw new SelectorError(`unbalanced parentheses in ${JSON.stringify(text)}`);
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** `text` as a Selector; an empty text selects every device. */
export function parseSelector(text: string): Selector {
  if (text.length > 1024) throw new SelectorError('a label selector of at most 1024 characters');
  const selector: Required<Selector> = { matchLabels: {}, matchExpressions: [] };
  if (text.trim() === '') return selector;
  const parts = requirements(text);
  if (parts.length > 32) throw new SelectorError('at most 32 requirements');
  for (const part of parts) {
    if (part === '') throw new SelectorError(`an empty requirement in ${JSON.stringify(text)}`);
    const set = /^(.+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (set) {
      const values = set[3]!.split(',').map((v) => value(v, part));
      if (values.length === 0 || values.every((v) => v === '')) throw new SelectorError(`${JSON.stringify(part)} needs at least one value`);
      selector.matchExpressions.push({ key: key(set[1]!, part), operator: set[2] === 'in' ? 'In' : 'NotIn', values });
      continue;
    }
    const op = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (op) {
      const k = key(op[1]!, part);
      const v = value(op[3]!, part);
      if (op[2] === '!=') selector.matchExpressions.push({ key: k, operator: 'NotIn', values: [v] });
      else if (k in selector.matchLabels && selector.matchLabels[k] !== v) {
        // Two different values for one key select nothing, as the API server's selector would.
        selector.matchExpressions.push({ key: k, operator: 'In', values: [v] });
      } else selector.matchLabels[k] = v;
      continue;
    }
    if (part.startsWith('!')) {
      selector.matchExpressions.push({ key: key(part.slice(1), part), operator: 'DoesNotExist' });
      continue;
    }
    selector.matchExpressions.push({ key: key(part, part), operator: 'Exists' });
  }
  return selector;
}

/** A Selector as `kubectl -l` would spell it (stage selectors on the page). */
export function formatSelector(selector: Selector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    if (r.operator === 'In') parts.push(`${r.key} in (${(r.values ?? []).join(',')})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${(r.values ?? []).join(',')})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else parts.push(`!${r.key}`);
  }
  return parts.join(',');
}
