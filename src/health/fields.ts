/**
 * Reading fields of live objects. Objects arrive as plain JSON with `unknown` fields, and a
 * status is often partly filled in (a controller has not acted yet), so every reader takes a
 * default and never throws on a missing or mistyped field.
 */

/** The value at `path` below `root`, or undefined if any step is missing or not an object. */
export function nested(root: unknown, ...path: string[]): unknown {
  let value: unknown = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** An integer field, or `fallback` when it is absent or not an integer. */
export function intField(root: unknown, path: string[], fallback: number): number {
  const value = nested(root, ...path);
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback;
}

/** An integer field, or undefined when it is absent or not an integer. */
export function optionalInt(root: unknown, path: string[]): number | undefined {
  const value = nested(root, ...path);
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/** A string field, or `fallback` when it is absent or not a string. */
export function stringField(root: unknown, path: string[], fallback = ''): string {
  const value = nested(root, ...path);
  return typeof value === 'string' ? value : fallback;
}

/** An array field, or an empty array. */
export function arrayField(root: unknown, path: string[]): unknown[] {
  const value = nested(root, ...path);
  return Array.isArray(value) ? value : [];
}
