/**
 * Cross-site request forgery: a page on another site can make the browser POST to the
 * dashboard with the user's cookie (or through the user's auth proxy). Every POST of an
 * ambient credential therefore needs (1) a same-origin request, by `Origin` and
 * `Sec-Fetch-Site` when the browser sends them, and (2) a token from our own page: an HMAC
 * of the caller's session. Bearer requests need neither: no browser sends that header by itself.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Principal } from './auth.js';

function perProcessKey(): () => Buffer {
  const key = randomBytes(32);
  return () => key;
}

export class Csrf {
  /**
   * The key is per process unless given (a token then lasts as long as the process, and a
   * reload fetches a new one); a key shared by the replicas lets any of them accept a form.
   */
  constructor(private readonly key: () => Buffer | string = perProcessKey()) {}

  token(principal: Principal): string {
    return createHmac('sha256', this.key()).update(`csrf\0${principal.session}`).digest('base64url');
  }

  valid(principal: Principal, given: string | undefined): boolean {
    if (!given) return false;
    const want = Buffer.from(this.token(principal));
    const got = Buffer.from(given);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** False when the browser says the request comes from another site. */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Whether a POST by `principal` may proceed; `given` is the form's or header's token. */
export function postAllowed(csrf: Csrf, principal: Principal, req: IncomingMessage, given: string | undefined): boolean {
  if (!principal.ambient) return true;
  return sameOrigin(req) && csrf.valid(principal, given);
}
