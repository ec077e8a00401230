/**
 * Small pieces both dashboards (cluster and fleet) print with: what a page may offer, a
 * commit shortened, an age that the page script keeps current (`data-age`), and a status
 * badge that is always a word and a symbol, never colour alone.
 */
import { html, type SafeHtml } from './html.js';

/** What the page may offer: actions need the operator role and carry the CSRF token. */
export interface ViewContext {
  operator: boolean;
  csrf: string;
  now: number;
}

export type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'idle';

export const shortCommit = (commit: string | undefined) => (commit ? commit.slice(0, 12) : '');

export function ago(iso: string | undefined, now: number): SafeHtml {
  if (!iso) return html`<span class="muted">never</span>`;
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const text = Number.isNaN(seconds)
    ? iso
    : seconds < 60
      ? `${seconds} s ago`
      : seconds < 3600
        ? `${Math.floor(seconds / 60)} min ago`
        : seconds < 172_800
          ? `${Math.floor(seconds / 3600)} h ago`
          : `${Math.floor(seconds / 86_400)} d ago`;
  return html`<time datetime="${iso}" data-age title="${iso}">${text}</time>`;
}

export function badge(tone: Tone, icon: string, text: string): SafeHtml {
  return html`<span class="badge ${tone}"><span aria-hidden="true">${icon}</span>${text}</span>`;
}
