import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/cli/common.js';
import { uiAuthFromFlags, type UiFlags } from '../../../src/cli/ui-flags.js';
import {
  addressTrusted,
  authenticate,
  isLoopbackHost,
  isRefusal,
  issueSession,
  proxyRole,
  roleOfToken,
  sessionCookie,
  type UiAuthConfig,
  validTrustedEntry,
  verifySession,
} from '../../../src/server/ui/auth.js';
import { Csrf, postAllowed, sameOrigin } from '../../../src/server/ui/csrf.js';
import { safeNext } from '../../../src/server/ui/gate.js';

const tokens = { operator: 'operator-secret-token', viewer: 'viewer-secret-token' };

function request(headers: Record<string, string>, remoteAddress = '127.0.0.1'): IncomingMessage {
  return {
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
}

const tokenAuth: UiAuthConfig = { mode: 'token', tokens: () => tokens };
const proxyAuth: UiAuthConfig = {
  mode: 'proxy',
  trusted: ['10.0.0.5', '192.168.0.0/16'],
  userHeader: 'X-Forwarded-User',
  groupsHeader: 'X-Forwarded-Groups',
  operators: { users: ['alice'], groups: ['ops'] },
  viewers: { users: [], groups: ['staff'] },
};

describe('dashboard sessions and tokens', () => {
  it('a session names its role, and dies with its token or its expiry', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const session = issueSession(tokens, 'viewer', now)!;
    assert.equal(verifySession(tokens, session, now), 'viewer');
    assert.equal(verifySession({ ...tokens, viewer: 'rotated' }, session, now), undefined, 'a rotated token ends its sessions');
    assert.equal(verifySession(tokens, session, now + 13 * 3600_000), undefined, 'expired');
    assert.equal(issueSession({ operator: tokens.operator }, 'viewer', now), undefined, 'no token, no session');
  });

  it('refuses forged and mangled session cookies', () => {
    const now = Date.now();
    const session = issueSession(tokens, 'viewer', now)!;
    const [v, , expiry, mac] = session.split('.');
    const hostile = [
      `${v}.operator.${expiry}.${mac}`, // the viewer's signature on an operator claim
      `${v}.viewer.${Number(expiry) + 100000}.${mac}`, // a longer life
      `v2.viewer.${expiry}.${mac}`,
      `${session}.extra`,
      'v1.viewer..',
      'v1.admin.9999999999.x',
      'v1.viewer.1e12.x',
      '',
      'garbage',
    ];
    for (const value of hostile) assert.equal(verifySession(tokens, value, now), undefined, value);
  });

  it('tells the roles apart by token, and nothing else passes', () => {
    assert.equal(roleOfToken(tokens, tokens.operator), 'operator');
    assert.equal(roleOfToken(tokens, tokens.viewer), 'viewer');
    for (const bad of ['', 'operator', `${tokens.operator} `, tokens.operator.slice(0, -1), tokens.viewer.toUpperCase()]) {
      assert.equal(roleOfToken(tokens, bad), undefined, JSON.stringify(bad));
    }
    assert.equal(roleOfToken({}, ''), undefined);
  });

  it('authenticates bearer headers (never ambient) and cookies (ambient)', () => {
    const bearer = authenticate(tokenAuth, request({ authorization: `Bearer ${tokens.viewer}` }));
    assert.ok(!isRefusal(bearer));
    assert.deepEqual([bearer.role, bearer.ambient], ['viewer', false]);
    const cookie = authenticate(tokenAuth, request({ cookie: `other=1; ${sessionCookie}=${issueSession(tokens, 'operator')}` }));
    assert.ok(!isRefusal(cookie));
    assert.deepEqual([cookie.role, cookie.ambient], ['operator', true]);
    const bad = authenticate(tokenAuth, request({ authorization: 'Bearer wrong', cookie: `${sessionCookie}=${issueSession(tokens, 'operator')}` }));
    assert.ok(isRefusal(bad) && bad.status === 401, 'a wrong bearer is not rescued by a cookie');
    const none = authenticate(tokenAuth, request({}));
    assert.ok(isRefusal(none) && none.status === 401);
    const unconfigured = authenticate({ mode: 'token', tokens: () => ({}) }, request({ authorization: 'Bearer ' }));
    assert.ok(isRefusal(unconfigured) && unconfigured.status === 503);
  });
});

describe('auth proxy headers', () => {
  it('are believed only from the trusted addresses', () => {
    const headers = { 'X-Forwarded-User': 'alice' };
    for (const from of ['10.0.0.5', '::ffff:10.0.0.5', '192.168.3.4']) {
      const p = authenticate(proxyAuth, request(headers, from));
      assert.ok(!isRefusal(p) && p.role === 'operator', from);
    }
    for (const from of ['10.0.0.6', '127.0.0.1', '::1', '192.169.0.1', undefined]) {
      const p = authenticate(proxyAuth, request(headers, from as string));
      assert.ok(isRefusal(p) && p.status === 403, String(from));
    }
  });

  it('give roles by the allow-lists: operators first, then viewers, else nothing', () => {
    assert.equal(proxyRole(proxyAuth as never, 'alice', []), 'operator');
    assert.equal(proxyRole(proxyAuth as never, 'bob', ['staff', 'ops']), 'operator');
    assert.equal(proxyRole(proxyAuth as never, 'bob', ['staff']), 'viewer');
    assert.equal(proxyRole(proxyAuth as never, 'bob', ['Staff']), undefined, 'groups are compared exactly');
    assert.equal(proxyRole(proxyAuth as never, 'mallory', []), undefined);
    assert.equal(proxyRole({ operators: { users: [], groups: [] }, viewers: { users: ['*'], groups: [] } }, 'anyone', []), 'viewer');
    const noUser = authenticate(proxyAuth, request({ 'X-Forwarded-Groups': 'ops' }, '10.0.0.5'));
    assert.ok(isRefusal(noUser) && noUser.status === 401);
    const stranger = authenticate(proxyAuth, request({ 'X-Forwarded-User': 'mallory', 'X-Forwarded-Groups': 'x, y' }, '10.0.0.5'));
    assert.ok(isRefusal(stranger) && stranger.status === 403);
  });

  it('match addresses exactly or by IPv4 CIDR', () => {
    assert.ok(addressTrusted('10.1.2.3', ['10.0.0.0/8']));
    assert.ok(addressTrusted('0.0.0.1', ['0.0.0.0/0']));
    assert.ok(!addressTrusted('11.0.0.1', ['10.0.0.0/8']));
    assert.ok(addressTrusted('::1', ['::1']));
    assert.ok(!addressTrusted('::2', ['::1/128']), 'IPv6 CIDRs are not supported: never a match');
    for (const good of ['10.0.0.5', '10.0.0.0/8', '::1', '0.0.0.0/0']) assert.ok(validTrustedEntry(good), good);
    for (const bad of ['10.0.0', '10.0.0.0/33', '10.0.0.0/8/1', 'proxy.local', '::1/64', '']) assert.ok(!validTrustedEntry(bad), bad);
  });
});

describe('no authentication', () => {
  it('serves loopback host names only (DNS rebinding)', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:1', '[::1]:8080', '127.1.2.3']) {
      assert.ok(!isRefusal(authenticate({ mode: 'none' }, request({ host }))), host);
    }
    for (const host of ['evil.example:8080', '10.0.0.1', 'localhost.evil.example', '']) {
      assert.ok(isRefusal(authenticate({ mode: 'none' }, request({ host }))), host);
    }
    assert.ok(isLoopbackHost('127.0.0.1') && !isLoopbackHost('0.0.0.0'));
  });
});

describe('CSRF', () => {
  const csrf = new Csrf();
  const ambient = { user: 'u', role: 'operator' as const, ambient: true, session: 's1' };
  const same = request({ host: 'doris:8080', origin: 'http://doris:8080', 'sec-fetch-site': 'same-origin' });

  it('accepts our token from our origin only', () => {
    const token = csrf.token(ambient);
    assert.ok(postAllowed(csrf, ambient, same, token));
    assert.ok(!postAllowed(csrf, ambient, same, undefined));
    assert.ok(!postAllowed(csrf, ambient, same, `${token}x`));
    assert.ok(!postAllowed(csrf, { ...ambient, session: 's2' }, same, token), 'a token of another session');
    assert.ok(!postAllowed(new Csrf(), ambient, same, token), 'a token of another process key');
    const crossSite: Array<Record<string, string>> = [
      { host: 'doris:8080', origin: 'http://evil.example' },
      { host: 'doris:8080', origin: 'null' },
      { host: 'doris:8080', 'sec-fetch-site': 'cross-site' },
      { host: 'doris:8080', 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of crossSite) {
      assert.ok(!sameOrigin(request(headers)), JSON.stringify(headers));
      assert.ok(!postAllowed(csrf, ambient, request(headers), token));
    }
  });

  it('is not needed with a bearer header, which no browser sends by itself', () => {
    assert.ok(postAllowed(csrf, { ...ambient, ambient: false }, request({ origin: 'http://evil.example' }), undefined));
  });

  it('shares its key between replicas when given one', () => {
    const a = new Csrf(() => 'shared');
    const b = new Csrf(() => 'shared');
    assert.ok(b.valid(ambient, a.token(ambient)));
  });

  it('returns to local paths only after a login', () => {
    for (const [given, want] of [
      ['/pipelines/web', '/pipelines/web'],
      ['/?x=1', '/?x=1'],
      ['//evil.example/', '/'],
      ['/\\evil.example', '/'],
      ['https://evil.example/', '/'],
      ['javascript:alert(1)', '/'],
      ['/a b', '/'],
      [null, '/'],
    ] as const) {
      assert.equal(safeNext(given), want, String(given));
    }
  });
});

describe('doris run --ui-auth flags', () => {
  const base: UiFlags = { uiSecretName: 'doris-ui', uiProxyUserHeader: 'X-Forwarded-User', uiProxyGroupsHeader: 'X-Forwarded-Groups' };
  const noTokens = () => ({});

  it('defaults to none on loopback and to token elsewhere', () => {
    assert.equal(uiAuthFromFlags(base, '127.0.0.1', noTokens).mode, 'none');
    assert.equal(uiAuthFromFlags(base, '0.0.0.0', noTokens).mode, 'token');
  });

  it('refuses to expose an unauthenticated dashboard, and a proxy mode without trust or allow-lists', () => {
    const cases: Array<[Partial<UiFlags>, string, RegExp]> = [
      [{ uiAuth: 'none' }, '0.0.0.0', /loopback --listen/],
      [{ uiAuth: 'none' }, '10.0.0.1', /loopback --listen/],
      [{ uiAuth: 'proxy', uiProxyViewerUsers: ['*'] }, '0.0.0.0', /--ui-proxy-trusted/],
      [{ uiAuth: 'proxy', uiProxyTrusted: ['proxy.local'], uiProxyViewerUsers: ['*'] }, '0.0.0.0', /not an IP address/],
      [{ uiAuth: 'proxy', uiProxyTrusted: ['10.0.0.5'] }, '0.0.0.0', /allow-list/],
    ];
    for (const [flags, host, message] of cases) {
      assert.throws(
        () => uiAuthFromFlags({ ...base, ...flags }, host, noTokens),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
        JSON.stringify(flags),
      );
    }
    const proxy = uiAuthFromFlags({ ...base, uiAuth: 'proxy', uiProxyTrusted: ['10.0.0.5'], uiProxyOperatorGroups: ['ops'] }, '0.0.0.0', noTokens);
    assert.equal(proxy.mode, 'proxy');
  });
});
