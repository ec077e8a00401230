/**
 * HTML built from templates that escape by default: every value interpolated into `html`
 * is escaped unless it is itself the result of `html` (or of `trusted`, for constants of
 * this program). Object names, commit messages and health messages come from repositories
 * and clusters, so a name like `<img onerror=...>` must print as text, everywhere.
 * Attributes are always written double-quoted; escaping covers both quote kinds anyway.
 */

/** Markup that is safe to insert as is. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => entities[c]!);
}

function piece(value: unknown): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  // Absent values (and `cond && html...` that is false) print nothing.
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

/** A template whose interpolations are escaped (arrays are joined, each element escaped). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Markup written by this program (never data): a stylesheet, an icon. */
export function trusted(text: string): SafeHtml {
  return new SafeHtml(text);
}

/** A URL path from segments, each percent-encoded (a name cannot add a segment or a query). */
export function pathOf(...segments: string[]): string {
  return `/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}
