/**
 * Who is asking, and may they act? The dashboard and its JSON API know two roles: a viewer
 * reads, an operator also acts (sync, suspend, resume). Three ways to know the caller:
 *
 * - `token`: a shared bearer token per role (from files or a Secret). Browsers log in once
 *   with a form and get a session cookie; scripts send `Authorization: Bearer`. The cookie is
 *   an HMAC over its role and expiry keyed by that role's token, so every replica accepts it
 *   and rotating a token ends its sessions. Nothing is stored server-side.
 * - `proxy`: an auth proxy in front (oauth2-proxy) has logged the user in and passes user and
 *   groups in headers. Headers are believed only from the configured source addresses (anyone
 *   else could set them); allow-lists of users and groups give the role.
 * - `none`: everyone is an operator. Allowed only on a loopback listen address, and requests
 *   must name a loopback Host, so a web page cannot reach it through DNS rebinding.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { parseCookies } from './request.js';

export type Role = 'viewer' | 'operator';

export interface Principal {
  /** A user name for logs and the page header (`token:operator`, the proxy's user, `local`). */
  user: string;
  role: Role;
  /**
   * Whether the browser sends the credential by itself (cookie, proxy session, nothing at all):
   * then a POST needs a CSRF token and a same-origin request. A bearer header is never ambient.
   */
  ambient: boolean;
  /** What the CSRF token is bound to. */
  session: string;
}

export interface RoleTokens {
  operator?: string;
  viewer?: string;
}

export interface Allowed {
  users: string[];
  groups: string[];
}

export interface ProxyAuthOptions {
  /** Source addresses (IPs or CIDRs) whose user headers are believed. */
  trusted: string[];
  userHeader: string;
  groupsHeader: string;
  operators: Allowed;
  viewers: Allowed;
}

export type UiAuthConfig = { mode: 'none' } | { mode: 'token'; tokens: () => RoleTokens } | ({ mode: 'proxy' } & ProxyAuthOptions);

export const sessionCookie = 'doris_session';
const sessionSeconds = 12 * 3600;

/** Why a request has no principal: HTTP status and a sentence for the caller. */
export interface Refusal {
  status: 401 | 403 | 503;
  message: string;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(host: string): boolean {
  return loopbackHosts.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host part of a Host header (`[::1]:8080` -> `[::1]`). */
function hostName(hostHeader: string | undefined): string {
  const host = (hostHeader ?? '').trim();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.split(':')[0]!;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const mac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('base64url');
/** The session key of a role: derived from its token, never the token itself. */
const sessionKey = (token: string) => mac(token, 'doris-ui-session');

/** `v1.<role>.<expiry>.<mac>`: valid while the role's token is unchanged and the expiry is ahead. */
export function issueSession(tokens: RoleTokens, role: Role, now = Date.now()): string | undefined {
  const token = tokens[role];
  if (!token) return undefined;
  const expiry = Math.floor(now / 1000) + sessionSeconds;
  return `v1.${role}.${expiry}.${mac(sessionKey(token), `${role}.${expiry}`)}`;
}

export function verifySession(tokens: RoleTokens, value: string, now = Date.now()): Role | undefined {
  const [version, role, expiry, signature, ...rest] = value.split('.');
  if (version !== 'v1' || rest.length > 0 || (role !== 'viewer' && role !== 'operator') || !expiry || !signature) return undefined;
  if (!/^\d{1,12}$/.test(expiry) || Number(expiry) * 1000 <= now) return undefined;
  const token = tokens[role];
  if (!token) return undefined;
  return safeEqual(signature, mac(sessionKey(token), `${role}.${expiry}`)) ? role : undefined;
}

/** The role a presented token gives (both compared in constant time), if any. */
export function roleOfToken(tokens: RoleTokens, given: string): Role | undefined {
  const operator = tokens.operator !== undefined && given.length > 0 && safeEqual(given, tokens.operator);
  const viewer = tokens.viewer !== undefined && given.length > 0 && safeEqual(given, tokens.viewer);
  return operator ? 'operator' : viewer ? 'viewer' : undefined;
}

/** `::ffff:10.0.0.1` is the IPv4 client of a dual-stack socket. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether `address` is one of `trusted` (exact addresses, or IPv4 CIDRs like 10.0.0.0/8). */
export function addressTrusted(address: string | undefined, trusted: string[]): boolean {
  if (!address) return false;
  const a = normalizeAddress(address);
  return trusted.some((entry) => {
    const [base, bits] = entry.split('/');
    if (bits === undefined) return normalizeAddress(base!) === a;
    if (isIP(base!) !== 4 || isIP(a) !== 4) return false;
    const n = Number(bits);
    const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
    return (ipv4Number(a) & mask) >>> 0 === (ipv4Number(base!) & mask) >>> 0;
  });
}

/** Checks a `--ui-proxy-trusted` entry: an IP address or an IPv4 CIDR. */
export function validTrustedEntry(entry: string): boolean {
  const [base, bits, ...rest] = entry.split('/');
  if (rest.length > 0) return false;
  if (bits === undefined) return isIP(base!) !== 0;
  return isIP(base!) === 4 && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

function allowed(list: Allowed, user: string, groups: string[]): boolean {
  return list.users.includes('*') || list.users.includes(user) || groups.some((g) => list.groups.includes(g));
}

/** The role of a proxy-authenticated user: operator lists first, then viewer lists. */
export function proxyRole(options: Pick<ProxyAuthOptions, 'operators' | 'viewers'>, user: string, groups: string[]): Role | undefined {
  if (allowed(options.operators, user, groups)) return 'operator';
  if (allowed(options.viewers, user, groups)) return 'viewer';
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The caller of `req`, or why there is none. */
export function authenticate(config: UiAuthConfig, req: IncomingMessage): Principal | Refusal {
  if (config.mode === 'none') {
    // A page on another site could resolve its own name to 127.0.0.1 (DNS rebinding): its
    // requests carry its Host, not ours.
    if (!isLoopbackHost(hostName(header(req, 'host')))) return { status: 403, message: 'without authentication only loopback host names are served' };
    return { user: 'local', role: 'operator', ambient: true, session: 'none' };
  }
  if (config.mode === 'proxy') {
    if (!addressTrusted(req.socket.remoteAddress, config.trusted)) {
      return { status: 403, message: 'requests must come through the configured auth proxy' };
    }
    const user = header(req, config.userHeader)?.trim();
    if (!user) return { status: 401, message: `the auth proxy sent no ${config.userHeader} header` };
    const groups = (header(req, config.groupsHeader) ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const role = proxyRole(config, user, groups);
    if (!role) return { status: 403, message: `${user} is not allowed to use this dashboard` };
    return { user, role, ambient: true, session: `proxy:${user}` };
  }
  const tokens = config.tokens();
  if (!tokens.operator && !tokens.viewer) {
    return { status: 503, message: 'no dashboard token is configured (--ui-token-file, or the dashboard Secret)' };
  }
  const authorization = header(req, 'authorization');
  if (authorization !== undefined) {
    const role = authorization.startsWith('Bearer ') ? roleOfToken(tokens, authorization.slice(7).trim()) : undefined;
    if (!role) return { status: 401, message: 'bad bearer token' };
    return { user: `token:${role}`, role, ambient: false, session: 'bearer' };
  }
  const cookie = parseCookies(header(req, 'cookie')).get(sessionCookie);
  const role = cookie ? verifySession(tokens, cookie) : undefined;
  if (!role) return { status: 401, message: 'log in first' };
  return { user: `token:${role}`, role, ambient: true, session: cookie! };
}

export function isRefusal(value: Principal | Refusal): value is Refusal {
  return 'status' in value;
}
