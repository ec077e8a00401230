/**
 * From one parsed YAML document to the Kubernetes objects it declares, checked the way the
 * API server would check what matters before a request is built:
 *
 * - a `kind: List` (`apiVersion: v1`) stands for its items, as with kubectl; each item is
 *   checked like a document of its own, located where it starts inside the List;
 * - every object needs a string `apiVersion`, `kind` and `metadata.name`, of valid shape
 *   (see `names.ts`: a name reaches a URL, so a bad one is an error, not a warning);
 * - fields the API server writes (`metadata.resourceVersion`, `uid`, `managedFields`, …, and
 *   `status`) are what `kubectl get -o yaml` copies along; they are removed with a warning
 *   rather than sent (a stale `resourceVersion` would make every apply conflict).
 */
import { isMap, isSeq, type Node } from 'yaml';
import { apiVersionProblem, kindProblem, namespaceProblem, nameProblem } from './names.js';
import { describeObject } from '../kube/objectid.js';
import type { KubeObject } from './types.js';

/** Where a node starts: 1-based line and column. */
export interface Position {
  line: number;
  col: number;
}

export interface FoundObject extends Position {
  object: KubeObject;
}

export interface FoundProblem extends Position {
  severity: 'error' | 'warning';
  message: string;
}

/** Fields of `metadata` that only the API server sets. */
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

/**
 * The objects of one document `value` (plain data) whose AST is `node`; `locate` turns a
 * source offset into a position. `start` is where the document starts.
 */
export function objectsOf(
  value: unknown,
  node: Node | null | undefined,
  start: Position,
  locate: (offset: number) => Position,
): { objects: FoundObject[]; problems: FoundProblem[] } {
  const objects: FoundObject[] = [];
  const problems: FoundProblem[] = [];
  const where = (n: Node | null | undefined, fallback: Position): Position => (n?.range ? locate(n.range[0]) : fallback);

  const visit = (item: unknown, itemNode: Node | null | undefined, at: Position, inList: boolean): void => {
    if (!isRecord(item)) {
      const what = inList ? 'List item' : 'document';
      problems.push({ severity: 'error', ...at, message: `${what} is ${describeType(item)}, not a mapping; every document must be a Kubernetes object` });
      return;
    }
    if (item['apiVersion'] === 'v1' && item['kind'] === 'List') {
      const items = item['items'];
      const itemsNode = isMap(itemNode) ? (itemNode.get('items', true) as Node | undefined) : undefined;
      if (!Array.isArray(items)) {
        const message = `a List needs "items", a list of objects; found ${items === undefined ? 'none' : describeType(items)}`;
        problems.push({ severity: 'error', ...where(itemsNode, at), message });
        return;
      }
      items.forEach((child, i) => {
        const childNode = isSeq(itemsNode) ? (itemsNode.items[i] as Node | undefined) : undefined;
        visit(child, childNode, where(childNode, at), true);
      });
      return;
    }
    const fieldAt = (...path: string[]): Position => {
      const found = isMap(itemNode) ? (itemNode.getIn(path, true) as Node | undefined) : undefined;
      return where(found, at);
    };
    const invalid = shapeProblem(item);
    if (invalid) {
      problems.push({ severity: 'error', ...at, message: invalid });
      return;
    }
    const object = item as KubeObject;
    if (object.metadata.namespace === null) delete object.metadata.namespace;
    const named = describeObject(object);
    const checks: [string | undefined, Position][] = [
      [apiVersionProblem(object.apiVersion), fieldAt('apiVersion')],
      [kindProblem(object.kind), fieldAt('kind')],
      [nameProblem(object.apiVersion, object.kind, object.metadata.name), fieldAt('metadata', 'name')],
      [object.metadata.namespace ? namespaceProblem(object.metadata.namespace) : undefined, fieldAt('metadata', 'namespace')],
    ];
    const errors = checks.filter((c): c is [string, Position] => c[0] !== undefined);
    for (const [message, position] of errors) {
      problems.push({ severity: 'error', ...position, message: `${named}: ${message}` });
    }
    if (errors.length > 0) return;

    const stripped = stripServerFields(object);
    if (stripped.length > 0) {
      const positions = stripped.map((field) => keyPosition(itemNode, field, at, locate));
      const first = positions.reduce((a, b) => (b.line < a.line || (b.line === a.line && b.col < a.col) ? b : a));
      const message =
        `${named}: ${stripped.join(', ')} ${stripped.length === 1 ? 'is' : 'are'} set by the API server ` +
        '(copied from `kubectl get -o yaml`?); removed, not sent';
      problems.push({ severity: 'warning', ...first, message });
    }
    objects.push({ object, ...at });
  };

  visit(value, node, start, false);
  return { objects, problems };
}

/** Where the key of a stripped field is written, which reads better than where its value is. */
function keyPosition(node: Node | null | undefined, field: string, fallback: Position, locate: (offset: number) => Position): Position {
  if (!isMap(node)) return fallback;
  const [parent, key] = field === 'status' ? [node, 'status'] : [node.get('metadata', true), field.slice('metadata.'.length)];
  if (!isMap(parent)) return fallback;
  const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
  const range = (pair?.key as Node | null | undefined)?.range;
  return range ? locate(range[0]) : fallback;
}

/** Removes what only the API server writes; returns the fields removed, as paths. */
function stripServerFields(object: KubeObject): string[] {
  const removed: string[] = [];
  for (const field of SERVER_METADATA) {
    if (field in object.metadata) {
      delete object.metadata[field];
      removed.push(`metadata.${field}`);
    }
  }
  if ('status' in object) {
    delete object['status'];
    removed.push('status');
  }
  return removed;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/** Why a mapping is not a Kubernetes object, or `undefined` if it is one. */
function shapeProblem(obj: Record<string, unknown>): string | undefined {
  const metadata = obj['metadata'];
  const meta = isRecord(metadata) ? metadata : undefined;
  const missing: string[] = [];
  if (!isNonEmptyString(obj['apiVersion'])) missing.push('apiVersion');
  if (!isNonEmptyString(obj['kind'])) missing.push('kind');
  if (!isNonEmptyString(meta?.['name'])) missing.push('metadata.name');
  if (missing.length > 0) {
    const name = isNonEmptyString(meta?.['name']) ? ` ${JSON.stringify(meta['name'])}` : '';
    const needs = 'every object needs a string apiVersion, kind and metadata.name';
    return `object${name} has no ${missing.join(', ')}; ${needs}`;
  }
  const namespace = meta?.['namespace'];
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return `metadata.namespace must be a string, not ${describeType(namespace)}`;
  }
  return undefined;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
