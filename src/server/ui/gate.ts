/**
 * The door of a dashboard: `require` finds the caller of a request (or answers for it: a
 * login page for a browser, 401/403 JSON for the API), `requireOperator` guards every action
 * (operator role, and for ambient credentials a same-origin request with our CSRF token), and
 * `/login` and `/logout` exchange a token for a session cookie. Shared by every dashboard.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, isRefusal, issueSession, normalizeAddress, type Principal, roleOfToken, sessionCookie, type UiAuthConfig } from './auth.js';
import { Csrf, postAllowed, sameOrigin } from './csrf.js';
import { FailureThrottle } from '../throttle.js';
import { html } from './html.js';
import { page, sendHtml, sendJson, securityHeaders } from './layout.js';
import { readForm, wantsJson } from './request.js';

/** A local path to return to after logging in (never another host: `//evil`, `/\\evil`). */
export function safeNext(value: string | null | undefined): string {
  if (!value?.startsWith('/') || value.startsWith('//') || value.includes('\\')) return '/';
  return /^[\x21-\x7e]*$/.test(value) ? value : '/';
}

export class UiGate {
  readonly csrf: Csrf;
  /** Failed logins per client address: too many in a minute are answered 429 instead of 401. */
  private readonly failures = new FailureThrottle();

  constructor(
    readonly config: UiAuthConfig,
    private readonly area: string,
  ) {
    // With tokens every replica derives the same CSRF key (a form from one is accepted by another).
    this.csrf =
      config.mode === 'token'
        ? new Csrf(() => {
            const t = config.tokens();
            return createHash('sha256')
              .update(`doris-ui-csrf\0${t.operator ?? ''}\0${t.viewer ?? ''}`)
              .digest();
          })
        : new Csrf();
  }

  /** The caller, or undefined after answering the refusal. */
  require(req: IncomingMessage, res: ServerResponse, api: boolean): Principal | undefined {
    const result = authenticate(this.config, req);
    if (!isRefusal(result)) return result;
    if (api || wantsJson(req)) {
      sendJson(res, result.status, { error: result.message });
    } else if (result.status === 401 && this.config.mode === 'token' && req.method === 'GET') {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(303, {
        ...securityHeaders,
        location: `/login?next=${encodeURIComponent(safeNext(url.pathname + url.search))}`,
        'cache-control': 'no-store',
      });
      res.end();
    } else {
      sendHtml(res, result.status, this.errorPage(result.status === 503 ? 'Not configured' : 'Not allowed', result.message));
    }
    return undefined;
  }

  /** True when `principal` may act with this request; otherwise answers 403 and returns false. */
  requireOperator(req: IncomingMessage, res: ServerResponse, principal: Principal, csrfToken: string | undefined): boolean {
    if (principal.role !== 'operator') {
      sendJson(res, 403, { error: `${principal.user} is a viewer; actions need the operator role` });
      return false;
    }
    if (!postAllowed(this.csrf, principal, req, csrfToken)) {
      sendJson(res, 403, { error: 'missing or bad CSRF token, or a cross-site request: reload the page and try again' });
      return false;
    }
    return true;
  }

  csrfFor(principal: Principal): string {
    return this.csrf.token(principal);
  }

  /** The logout form's data, for token sessions only. */
  logoutFor(principal: Principal): { csrf: string } | undefined {
    return this.config.mode === 'token' && principal.ambient ? { csrf: this.csrfFor(principal) } : undefined;
  }

  errorPage(title: string, message: string): string {
    return page({ title, area: this.area, nav: [], body: html`<h1>${title}</h1><p class="banner bad">${message}</p>` });
  }

  private loginPage(next: string, error?: string): string {
    return page({
      title: 'Log in',
      area: this.area,
      nav: [],
      body: html`<h1>Log in</h1>
${error ? html`<p class="banner bad" role="alert">${error}</p>` : ''}
<form class="login" method="post" action="/login">
<label for="token">Dashboard token (viewer or operator)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${next}">
<button class="primary" type="submit">Log in</button>
</form>`,
    });
  }

  /** `/login` and `/logout`; false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname !== '/login' && url.pathname !== '/logout') return false;
    if (this.config.mode !== 'token') {
      sendHtml(res, 404, this.errorPage('Not found', `there is no login with --ui-auth ${this.config.mode}`));
      return true;
    }
    if (url.pathname === '/login' && req.method === 'GET') {
      sendHtml(res, 200, this.loginPage(safeNext(url.searchParams.get('next'))));
      return true;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method not allowed' });
      return true;
    }
    const form = await readForm(req);
    if (!sameOrigin(req)) {
      sendJson(res, 403, { error: 'cross-site request refused' });
      return true;
    }
    const secure = req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    if (url.pathname === '/logout') {
      res.writeHead(303, { ...securityHeaders, location: '/login', 'set-cookie': `${sessionCookie}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}` });
      res.end();
      return true;
    }
    const now = Date.now();
    const tokens = this.config.tokens();
    const role = roleOfToken(tokens, (form.get('token') ?? '').trim());
    const session = role && issueSession(tokens, role, now);
    if (!session) {
      if (this.failures.fail(normalizeAddress(req.socket.remoteAddress ?? ''), now)) {
        sendHtml(res, 429, this.loginPage(safeNext(form.get('next')), 'Too many failed logins; wait a minute.'), { 'retry-after': '60' });
      } else {
        sendHtml(res, 401, this.loginPage(safeNext(form.get('next')), 'That token is not valid.'));
      }
      return true;
    }
    res.writeHead(303, {
      ...securityHeaders,
      location: safeNext(form.get('next')),
      'set-cookie': `${sessionCookie}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${12 * 3600}${secure}`,
    });
    res.end();
    return true;
  }
}
