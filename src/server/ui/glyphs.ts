/**
 * The symbols the dashboards print inside a template's text, interpolated rather than
 * written there. The text of a tagged template reaches the bundle verbatim (its raw form
 * must survive), and a single character past U+00FF anywhere in the bundle makes V8 hold
 * the whole source, 1.4 MB, as UTF-16: 1.3 MiB more heap for as long as DORIS runs. In a
 * string literal esbuild writes such a character as an escape. `npm run build` refuses a
 * bundle that still holds one (scripts/bundle.ts).
 */
export const glyph = {
  ok: '✔',
  failed: '✖',
  offline: '○',
  connected: '●',
  current: '▶',
  waiting: '…',
  back: '←',
  next: '→',
  none: '—',
  syncing: '⟳',
  queued: '⋯',
  removed: '−',
  recreated: '↻',
} as const;
