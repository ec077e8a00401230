/**
 * Field-level differences between a live object and what a sync would make of it, as plain
 * data: `doris diff` prints them, the dashboard shows them. Pure: the caller brings the live
 * object and the server-side dry-run result (reconcile/diff-pipeline.ts does that for a
 * whole Pipeline).
 *
 * What the server rewrites on every write (resourceVersion, generation, managedFields) and
 * what controllers write (status) is not a difference. The values of a Secret's `data` and
 * `stringData` (and kubectl's last-applied annotation, which holds them too) are never shown:
 * a change there reads `"***" -> "***"`.
 *
 * Paths read like kubectl's: `spec.template.spec.containers[name=app].image`,
 * `metadata.labels["app.kubernetes.io/name"]`, `spec.ports[0].port`. Items of a list are
 * matched by their `name` when every item has a distinct one (containers, env, ports,
 * volumes), so that inserting a container does not show every later one as changed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../kube/object.js';

export type FieldOp = 'add' | 'remove' | 'change';

export interface FieldChange {
  path: string;
  op: FieldOp;
  /** The live value (absent for `add`). */
  from?: unknown;
  /** The value after the sync (absent for `remove`). */
  to?: unknown;
}

/**
 * - `create`: not in the cluster yet; `update`: fields change; `recreate`: deleted and created
 *   again (an immutable field changes); `delete`: pruned; `unchanged`;
 * - `error`: the API server would refuse it (note says why).
 */
export type ObjectAction = 'create' | 'update' | 'recreate' | 'delete' | 'unchanged' | 'error';

export interface ObjectDiff {
  /** For a pruned object only its group (`v1` for the core group): the inventory keeps no version. */
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  action: ObjectAction;
  /** Field changes of an update or recreate (empty for create, delete and unchanged). */
  changes: FieldChange[];
  /** Where the object is written (`file:line:col`), when it comes from the repository. */
  source?: string;
  /** Stage label (`wave 2 (influxdb), step 170`) or `prune`. */
  stage?: string;
  note?: string;
}

export const masked = '***';

/** A copy without what the server or controllers write. */
export function comparable(object: KubeObject): Record<string, unknown> {
  const {
    managedFields: _m,
    resourceVersion: _r,
    generation: _g,
    selfLink: _s,
    ...metadata
  } = object.metadata as KubeObject['metadata'] & {
    generation?: unknown;
    selfLink?: unknown;
  };
  const { status: _status, ...rest } = object;
  return { ...rest, metadata };
}

const plainKey = /^[A-Za-z_$][\w$-]*$/;

function child(path: string, key: string): string {
  if (plainKey.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The `name` of every item, when each has a distinct string one; else undefined. */
function namesOf(items: unknown[]): string[] | undefined {
  const names = items.map((item) => (isRecord(item) && typeof item.name === 'string' ? item.name : undefined));
  if (names.some((n) => n === undefined) || new Set(names).size !== names.length) return undefined;
  return names as string[];
}

/** Every difference between two values, leaf by leaf. */
export function diffValues(from: unknown, to: unknown, path = ''): FieldChange[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (from === undefined) return [{ path, op: 'add', to }];
  if (to === undefined) return [{ path, op: 'remove', from }];
  if (isRecord(from) && isRecord(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((key) => diffValues(from[key], to[key], child(path, key)));
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const fromNames = namesOf(from);
    const toNames = namesOf(to);
    if (fromNames && toNames) {
      const byName = (items: unknown[], names: string[]) => new Map(names.map((n, i) => [n, items[i]]));
      const a = byName(from, fromNames);
      const b = byName(to, toNames);
      const names = [...fromNames, ...toNames.filter((n) => !a.has(n))];
      return names.flatMap((name) => diffValues(a.get(name), b.get(name), `${path}[name=${name}]`));
    }
    const length = Math.max(from.length, to.length);
    return Array.from({ length }, (_, i) => diffValues(from[i], to[i], `${path}[${i}]`)).flat();
  }
  return [{ path, op: 'change', from, to }];
}

function isSecret(object: KubeObject | undefined): boolean {
  return object?.kind === 'Secret' && object.apiVersion === 'v1';
}

/** A change with a Secret's values replaced by `***` (the path still says which key changed). */
function maskChange(change: FieldChange): FieldChange {
  const lastApplied = 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]';
  if (!/^(data|stringData)([.[]|$)/.test(change.path) && change.path !== lastApplied) return change;
  const hide = (value: unknown): unknown => (isRecord(value) ? Object.fromEntries(Object.keys(value).map((k) => [k, masked])) : masked);
  return {
    ...change,
    ...(change.op !== 'add' ? { from: hide(change.from) } : {}),
    ...(change.op !== 'remove' ? { to: hide(change.to) } : {}),
  };
}

/**
 * The field changes from `live` to `after` (the dry-run result, or the desired object when no
 * dry-run is possible), Secret values masked.
 */
export function diffFields(live: KubeObject, after: KubeObject): FieldChange[] {
  const changes = diffValues(comparable(live), comparable(after));
  return isSecret(live) || isSecret(after) ? changes.map(maskChange) : changes;
}

/** One object's diff: `update` when fields change, else `unchanged`. */
export function diffObject(live: KubeObject, after: KubeObject, extra: Partial<ObjectDiff> = {}): ObjectDiff {
  const changes = diffFields(live, after);
  return {
    ...identify(after),
    action: changes.length > 0 ? 'update' : 'unchanged',
    ...extra,
    changes,
  };
}

export function identify(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): Pick<ObjectDiff, 'apiVersion' | 'kind' | 'namespace' | 'name'> {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
    name: object.metadata.name,
  };
}

/** True when applying the diffs would change anything (errors count: the sync would fail). */
export function hasChanges(diffs: ObjectDiff[]): boolean {
  return diffs.some((d) => d.action !== 'unchanged');
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** The diffs as text, one block per object that changes (`--output text`). */
export function formatDiffs(diffs: ObjectDiff[]): string[] {
  const lines: string[] = [];
  const verbs: Record<ObjectAction, string> = {
    create: 'created',
    update: 'changed',
    recreate: 'recreated (deleted and created again)',
    delete: 'deleted (pruned)',
    unchanged: 'unchanged',
    error: 'refused',
  };
  const marks: Record<ObjectAction, string> = { create: '+', update: '~', recreate: '!', delete: '-', unchanged: '=', error: 'x' };
  for (const d of diffs) {
    if (d.action === 'unchanged') continue;
    const where = d.source ? `  (${d.source})` : '';
    lines.push(`${marks[d.action]} ${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name} ${verbs[d.action]}${where}`);
    if (d.note) lines.push(`    ${d.note}`);
    for (const c of d.changes) {
      if (c.op === 'add') lines.push(`    + ${c.path}: ${show(c.to)}`);
      else if (c.op === 'remove') lines.push(`    - ${c.path}: ${show(c.from)}`);
      else lines.push(`    ~ ${c.path}: ${show(c.from)} -> ${show(c.to)}`);
    }
  }
  return lines;
}
