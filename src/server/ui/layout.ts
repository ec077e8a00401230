/**
 * The page shell every dashboard page shares (cluster and fleet): head, top bar with the
 * caller and their role, a notice area, `<main id="main">` (what live updates replace) and
 * the security headers. The Content-Security-Policy allows our own script and stylesheet
 * only (no inline script, no other host), and no one may frame the dashboard.
 */
import type { ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { glyph } from './glyphs.js';
import { html, type SafeHtml } from './html.js';
import { assetAt, script, stylesheet } from './assets.js';

export const securityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, browsers send `Origin: null` on our own form posts, and the
  // same-origin check (csrf.ts) could not tell them from a forgery.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface PageOptions {
  title: string;
  /** Product area shown in the top bar (`cluster`, `fleet`). */
  area: string;
  nav: Array<{ href: string; label: string; current?: boolean }>;
  principal?: Principal;
  /** Shown with a logout button (token logins). */
  logout?: { csrf: string };
  /** The SSE URL the page follows; absent: a static page. */
  events?: string;
  body: SafeHtml;
}

export function page(options: PageOptions): string {
  const { principal } = options;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title} · DORIS</title><link rel="stylesheet" href="${stylesheet.path}"><link rel="icon" href="data:,">
</head><body${options.events ? html` data-events="${options.events}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/">DORIS <span class="muted">${options.area}</span></a>
<nav aria-label="Main">${options.nav.map((n) => html`<a href="${n.href}"${n.current ? html` aria-current="page"` : ''}>${n.label}</a>`)}</nav>
<span class="who">${options.events ? html`<span id="live" class="live muted" role="status">${glyph.offline} static</span>` : ''}
${principal ? html`<span>${principal.user} · <strong>${principal.role}</strong></span>` : ''}
${options.logout ? html`<form method="post" action="/logout"><input type="hidden" name="csrf" value="${options.logout.csrf}"><button type="submit">Log out</button></form>` : ''}</span>
</header>
<div id="notice" class="banner info" role="status" aria-live="polite" hidden></div>
<main id="main" tabindex="-1">${options.body}</main>
<script src="${script.path}" defer></script>
</body></html>
`.text;
}

/** The asset at a `/ui/...` path, cached for good (its name carries its hash); false when there is none. */
export function sendAsset(res: ServerResponse, path: string): boolean {
  const asset = assetAt(path);
  if (!asset) return false;
  res.writeHead(200, { ...securityHeaders, 'content-type': asset.type, 'cache-control': 'public, max-age=31536000, immutable' });
  res.end(asset.body);
  return true;
}

export function sendHtml(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...securityHeaders, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', vary: 'x-doris-fragment', ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...securityHeaders, 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
