/**
 * The device API over real HTTP on 127.0.0.1, with the real Device registry and enrollment
 * tokens on an in-memory API server and a Fleet view the test drives. Hostile input first.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Device, Fleet, Revision } from '../../../src/api/hub.js';
import { HubApi, type FleetView } from '../../../src/hub/api.js';
import { DeviceRegistry, defaultDeviceRegistryOptions } from '../../../src/hub/devices.js';
import { HubMetrics } from '../../../src/hub/metrics.js';
import { EnrollmentTokens, enrollmentSecretName } from '../../../src/hub/tokens.js';
import { createLogger } from '../../../src/log.js';
import { waitFor } from '../../env/proc.js';
import { KubeApiError } from '../../../src/kube/http.js';
import { HubFakeKube } from './hub_fake.js';

const ns = 'hub';
const bundleBytes = Buffer.from('pretend this is a gzip of a wave folder');
const bundleDigest = `sha256:${createHash('sha256').update(bundleBytes).digest('hex')}`;
const otherDigest = `sha256:${'e'.repeat(64)}`;

function revision(id: string, bundle = bundleDigest): Revision {
  return { id, commit: 'c'.repeat(40), bundle, bundleSize: bundleBytes.length, images: [], createdAt: '2026-12-01T00:00:00Z' };
}

function fleet(name: string, rev?: Revision): Fleet {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Fleet',
    metadata: { name, namespace: ns },
    spec: { git: { url: 'https://git.example/fleet.git' }, images: [{ repository: 'ghcr.io/acme/app' }] },
    status: rev ? { revision: rev, revisions: [rev] } : {},
  };
}

/** A Fleet view the test writes to, as the Fleet watch would. */
class TestFleets implements FleetView {
  readonly fleets = new Map<string, Fleet>();
  private readonly listeners: Array<(fleet: string) => void> = [];
  readonly hasSynced = true;
  get(name: string) {
    return this.fleets.get(name);
  }
  targetFor(name: string, _device: Device) {
    return this.fleets.get(name)?.status?.revision;
  }
  onChange(listener: (fleet: string) => void) {
    this.listeners.push(listener);
  }
  set(f: Fleet) {
    this.fleets.set(f.metadata.name, f);
    for (const l of this.listeners) l(f.metadata.name);
  }
  remove(name: string) {
    this.fleets.delete(name);
    for (const l of this.listeners) l(name);
  }
}

let logText = '';
const log = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, done) {
      logText += chunk.toString();
      done();
    },
  }),
});
let kube: HubFakeKube;
let devices: DeviceRegistry;
let fleets: TestFleets;
let api: HubApi;
let server: Server;
let port: number;
let tokens: EnrollmentTokens;
const issuedTokens: string[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => { error?: string; message?: string; [k: string]: unknown };
}

function call(
  method: string,
  path: string,
  options: { token?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean; port?: number; from?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const req = request({ host: '127.0.0.1', port: options.port ?? port, localAddress: options.from, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.on('error', reject);
    if (options.body !== undefined) {
      if (options.chunked) {
        const data = Buffer.from(options.body);
        for (let i = 0; i < data.length; i += 8192) req.write(data.subarray(i, i + 8192));
      } else {
        req.setHeader('content-length', Buffer.byteLength(options.body));
        req.write(options.body);
      }
    }
    req.end();
  });
}

async function enroll(device: string, fleetName: string, labels: Record<string, string> = {}): Promise<string> {
  const { token } = await tokens.create({ fleet: fleetName, labels, ttlMs: 60_000, uses: 1 });
  issuedTokens.push(token);
  const answer = await call('POST', '/v1/enroll', { body: JSON.stringify({ fleet: fleetName, device, enrollmentToken: token }) });
  assert.equal(answer.status, 200, answer.body);
  const deviceToken = answer.json().token as string;
  issuedTokens.push(deviceToken);
  return deviceToken;
}

const goodReport = () => ({ ready: 'True', reason: 'Synced', message: 'ok', agentVersion: '0.1.0', commit: 'c'.repeat(40), revision: 'r-0123456789abcdef' });

const enrollBody = (fleetName: string, device: string, enrollmentToken: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ fleet: fleetName, device, enrollmentToken, ...extra });

/** Uses left of an enrollment token, as stored. */
function usesLeft(token: string): number {
  const secret = kube.objects.get(`Secret/${ns}/${enrollmentSecretName(token)}`) as unknown as { data: { usesLeft: string } };
  return Number(Buffer.from(secret.data.usesLeft, 'base64').toString());
}

before(async () => {
  kube = new HubFakeKube();
  devices = new DeviceRegistry(kube, ns, log, defaultDeviceRegistryOptions());
  devices.start();
  fleets = new TestFleets();
  fleets.set(fleet('f1', revision('r-1')));
  fleets.set(fleet('f2', revision('r-9', otherDigest)));
  fleets.set(fleet('empty'));
  tokens = new EnrollmentTokens(kube, ns);
  const metrics = new HubMetrics({ defaultMetrics: false });
  api = new HubApi({
    log,
    metrics,
    devices,
    fleets,
    bundles: { get: async (digest) => (digest === bundleDigest ? bundleBytes : undefined) },
    tokens,
    // Every test calls from 127.0.0.1: throttling is its own test, with its own API.
    options: { retryAfterSpreadSeconds: 5, enrollFailuresPerMinute: 1000 },
  });
  server = createServer((req, res) => {
    void api.handle(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  await waitFor('the device cache', async () => devices.hasSynced || undefined, { timeoutMs: 5000 });
});

after(async () => {
  await devices.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('hub API: hostile input', () => {
  it('refuses malformed, unknown and wrong device tokens with 401 and a JSON error', async () => {
    const token = await enroll('hostile-1', 'f1');
    const secret = token.split('.')[1]!;
    const cases: Array<[string, Record<string, string>]> = [
      ['no header', {}],
      ['not bearer', { authorization: `Basic ${token}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['no dot', { authorization: 'Bearer abcdef' }],
      ['empty device', { authorization: `Bearer .${secret}` }],
      ['empty secret', { authorization: 'Bearer hostile-1.' }],
      ['unknown device', { authorization: `Bearer nobody.${secret}` }],
      ['wrong secret', { authorization: `Bearer hostile-1.${'A'.repeat(43)}` }],
      ['device name with slash', { authorization: `Bearer ../hostile-1.${secret}` }],
      ['huge token', { authorization: `Bearer ${'a'.repeat(4000)}.${secret}` }],
      ['space inside', { authorization: `Bearer hostile-1 .${secret}` }],
      ['two tokens', { authorization: `Bearer ${token}, Bearer ${token}` }],
    ];
    for (const [what, headers] of cases) {
      const answer = await call('GET', '/v1/fleets/f1/target', { headers });
      assert.equal(answer.status, 401, what);
      assert.ok(['unauthorized', 'revoked'].includes(answer.json().error!), what);
      assert.match(answer.json().message!, /\w/, what);
    }
  });

  it('never lets a path segment name something else: traversal, escapes, case, bad digests', async () => {
    const token = await enroll('hostile-2', 'f1');
    const paths = [
      '/v1/fleets/../target',
      '/v1/fleets/%2e%2e/target',
      '/v1/fleets/f1%2f..%2ff2/target',
      '/v1/fleets/F1/target',
      '/v1/fleets/f1/../f2/target',
      '/v1/fleets/-f1/target',
      `/v1/fleets/${'a'.repeat(64)}/target`,
      '/v1/fleets/f1/bundles/..%2f..%2fsecrets',
      '/v1/fleets/f1/bundles/sha256:ABC',
      `/v1/fleets/f1/bundles/sha256:${'0'.repeat(63)}`,
      `/v1/fleets/f1/bundles/${bundleDigest}/..`,
      '/v1/fleets/f1/devices/..%2fhostile-2/report',
      '/v1/fleets/f1/devices/../report',
      '/v1/fleets/f1',
      '/v1/fleets//target',
      '/v1/enroll/../fleets/f1/target',
    ];
    for (const path of paths) {
      const answer = await call(path.endsWith('/report') ? 'PUT' : 'GET', path, {
        token,
        body: path.endsWith('/report') ? JSON.stringify(goodReport()) : undefined,
      });
      assert.ok([400, 404].includes(answer.status), `${path}: ${answer.status} ${answer.body}`);
      assert.ok(answer.json().error, path);
    }
  });

  it('refuses oversized bodies (413), declared or streamed', async () => {
    const token = await enroll('hostile-3', 'f1');
    const big = JSON.stringify({ ...goodReport(), message: 'x'.repeat(70 * 1024) });
    assert.equal((await call('PUT', '/v1/fleets/f1/devices/hostile-3/report', { token, body: big })).status, 413);
    assert.equal((await call('PUT', '/v1/fleets/f1/devices/hostile-3/report', { token, body: big, chunked: true })).status, 413);
    const enrollBody = JSON.stringify({ fleet: 'f1', device: 'd', enrollmentToken: 'x'.repeat(20 * 1024) });
    assert.equal((await call('POST', '/v1/enroll', { body: enrollBody })).status, 413);
  });

  it('refuses bad reports (400): not JSON, wrong types, unknown fields, bad commit', async () => {
    const token = await enroll('hostile-4', 'f1');
    const bodies = [
      'not json',
      '[]',
      JSON.stringify({ ...goodReport(), ready: 'yes' }),
      JSON.stringify({ ...goodReport(), extra: 1 }),
      JSON.stringify({ ...goodReport(), commit: 'zz' }),
      JSON.stringify({ ...goodReport(), images: [{ repository: 'a', digest: 'sha256:12' }] }),
      JSON.stringify({ ...goodReport(), counts: { created: -1, configured: 0, unchanged: 0, recreated: 0, pruned: 0 } }),
    ];
    for (const body of bodies) {
      const answer = await call('PUT', '/v1/fleets/f1/devices/hostile-4/report', { token, body });
      assert.equal(answer.status, 400, body.slice(0, 60));
      assert.equal(answer.json().error, 'bad-request');
    }
  });

  it('a device token reads only its own fleet (403) and writes only its own report (403)', async () => {
    const mine = await enroll('dev-a', 'f1');
    await enroll('dev-b', 'f1');
    const target = await call('GET', '/v1/fleets/f2/target', { token: mine });
    assert.equal(target.status, 403);
    assert.match(target.json().message!, /belongs to Fleet f1, not f2/);
    assert.equal((await call('GET', `/v1/fleets/f2/bundles/${otherDigest}`, { token: mine })).status, 403);
    const other = await call('PUT', '/v1/fleets/f1/devices/dev-b/report', { token: mine, body: JSON.stringify(goodReport()) });
    assert.equal(other.status, 403);
    assert.match(other.json().message!, /only its own report/);
    assert.equal(devices.get('dev-b')?.status?.report, undefined, 'nothing was written for dev-b');
  });

  it('refuses expired, used-up, unknown and other-fleet enrollment tokens, and reserved labels', async () => {
    const once = await tokens.create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 1 });
    const body = (token: string, extra: Record<string, unknown> = {}) => JSON.stringify({ fleet: 'f1', device: 'enr-1', enrollmentToken: token, ...extra });
    assert.equal((await call('POST', '/v1/enroll', { body: body(once.token) })).status, 200);
    const used = await call('POST', '/v1/enroll', { body: body(once.token) });
    assert.equal(used.status, 401);
    assert.match(used.json().message!, /used up/);
    const expired = await new EnrollmentTokens(kube, ns, () => Date.now() - 120_000).create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 5 });
    const late = await call('POST', '/v1/enroll', { body: body(expired.token) });
    assert.equal(late.status, 401);
    assert.match(late.json().message!, /expired/);
    assert.equal((await call('POST', '/v1/enroll', { body: body('y'.repeat(43)) })).status, 401);
    const f2 = await tokens.create({ fleet: 'f2', labels: {}, ttlMs: 60_000, uses: 5 });
    assert.equal((await call('POST', '/v1/enroll', { body: body(f2.token) })).status, 403);
    const reserved = await call('POST', '/v1/enroll', { body: body(f2.token, { fleet: 'f2', labels: { 'hub.doris.dev/fleet': 'f1' } }) });
    assert.equal(reserved.status, 400);
    for (const bad of [{ device: '../x' }, { device: 'UPPER' }, { fleet: '../f1' }, { labels: { 'bad key!': 'v' } }, { surprise: true }]) {
      assert.equal((await call('POST', '/v1/enroll', { body: body(f2.token, { fleet: 'f2', ...bad }) })).status, 400, JSON.stringify(bad));
    }
    assert.equal((await call('GET', '/v1/enroll')).status, 405);
  });

  it('an enrollment token does not take over an enrolled device, of its Fleet or another (409); the use is given back', async () => {
    const victim = await enroll('store-42', 'f1', { ring: 'prod' });
    const reported = await call('PUT', '/v1/fleets/f1/devices/store-42/report', { token: victim, body: JSON.stringify(goodReport()) });
    assert.equal(reported.status, 204);
    for (const fleetName of ['f2', 'f1']) {
      const shared = await tokens.create({ fleet: fleetName, labels: {}, ttlMs: 60_000, uses: 1 });
      const taken = await call('POST', '/v1/enroll', { body: enrollBody(fleetName, 'store-42', shared.token) });
      assert.equal(taken.status, 409, taken.body);
      assert.equal(taken.json().error, 'enrollment-refused');
      assert.match(taken.json().message!, /store-42 is already enrolled in Fleet f1.*an operator deletes it first \(kubectl -n hub delete device store-42/);
      assert.equal(usesLeft(shared.token), 1, 'nothing was enrolled: the use is back');
    }
    assert.equal(devices.get('store-42')?.spec.fleet, 'f1');
    assert.equal(devices.get('store-42')?.metadata.labels?.ring, 'prod');
    assert.equal((await call('GET', '/v1/fleets/f1/target', { token: victim })).status, 200, 'the device keeps its token');
  });

  it('refuses names and labels the API server would refuse before spending a use; gives the use back when the Device write fails', async () => {
    const once = await tokens.create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 1 });
    const cases: Array<[string, Record<string, unknown>]> = [
      ['empty part', { device: 'a..b' }],
      ['part ending in -', { device: 'a-.b' }],
      ['part starting with -', { device: 'a.-b' }],
      ['name over 253', { device: 'a'.repeat(254) }],
      ['key name over 63', { labels: { ['k'.repeat(64)]: 'v' } }],
      ['prefixed key name over 63', { labels: { [`example.com/${'k'.repeat(64)}`]: 'v' } }],
      ['key prefix not a subdomain', { labels: { 'Example.com/k': 'v' } }],
      ['key prefix over 253', { labels: { [`${'p'.repeat(254)}/k`]: 'v' } }],
      ['empty key prefix', { labels: { '/k': 'v' } }],
      ['two slashes', { labels: { 'a/b/c': 'v' } }],
      ['value over 63', { labels: { k: 'v'.repeat(64) } }],
      ['value ending in .', { labels: { k: 'v.' } }],
    ];
    for (const [what, extra] of cases) {
      const answer = await call('POST', '/v1/enroll', { body: enrollBody('f1', 'named-1', once.token, extra) });
      assert.equal(answer.status, 400, `${what}: ${answer.body}`);
      assert.equal(answer.json().error, 'bad-request', what);
    }
    assert.equal(usesLeft(once.token), 1);
    // Whatever the API server refuses anyway: the use is given back.
    kube.beforeWrite = (verb, key) => {
      if (verb === 'POST' && key.startsWith('Device/')) throw new KubeApiError('POST', key, 422, { reason: 'Invalid', message: 'refused by a webhook' }, '');
    };
    try {
      const refusedWrite = await call('POST', '/v1/enroll', { body: enrollBody('f1', 'named-1', once.token) });
      assert.equal(refusedWrite.status, 400, refusedWrite.body);
      assert.match(refusedWrite.json().message!, /the Device cannot be created: refused by a webhook/);
    } finally {
      kube.beforeWrite = () => undefined;
    }
    assert.equal(usesLeft(once.token), 1);
    const labels = { [`example.com/${'k'.repeat(63)}`]: 'v'.repeat(63), empty: '', 'a.b_c-d': 'A.b_C-9' };
    const enrolled = await call('POST', '/v1/enroll', { body: enrollBody('f1', 'a.b-c.d', once.token, { labels }) });
    assert.equal(enrolled.status, 200, enrolled.body);
    assert.equal(usesLeft(once.token), 0);
  });

  it('refuses reports whose reason or revision could carry terminal escapes', async () => {
    const token = await enroll('escapes-1', 'f1');
    for (const over of [
      { reason: '\u001b[2J\u001b]0;pwned\u0007X' },
      { reason: 'Synced\r\nfake-device  True' },
      { reason: 'Synced\u009b31m' },
      { revision: 'r-x\r\nfake-device  ready' },
      { revision: 'r-0123456789ABCDEF' },
      { revision: 'r-1' },
    ]) {
      const answer = await call('PUT', '/v1/fleets/f1/devices/escapes-1/report', { token, body: JSON.stringify({ ...goodReport(), ...over }) });
      assert.equal(answer.status, 400, JSON.stringify(over));
    }
    assert.equal(devices.get('escapes-1')?.status?.report, undefined);
  });

  it('a deleted device is refused at once (401), also on a poll it holds open', async () => {
    const token = await enroll('doomed', 'f1');
    const held = call('GET', '/v1/fleets/f1/target?wait=30', { token, headers: { 'if-none-match': '"r-1"' } });
    await waitFor('the poll to be held', async () => api.openPolls > 0 || undefined, { timeoutMs: 5000 });
    await kube.delete({ apiVersion: 'hub.doris.dev/v1alpha1', kind: 'Device', namespace: ns, name: 'doomed' });
    const answer = await held;
    assert.equal(answer.status, 401);
    assert.equal(answer.json().error, 'revoked');
    assert.equal((await call('GET', '/v1/fleets/f1/target', { token })).status, 401);
    assert.equal((await call('PUT', '/v1/fleets/f1/devices/doomed/report', { token, body: JSON.stringify(goodReport()) })).status, 401);
  });

  it('bad wait values are refused', async () => {
    const token = await enroll('waiter-0', 'f1');
    for (const wait of ['-1', '301', 'abc', '1.5', '99999999']) {
      assert.equal((await call('GET', `/v1/fleets/f1/target?wait=${wait}`, { token })).status, 400, wait);
    }
  });
});

describe('hub API: targets, bundles, reports', () => {
  it('answers the target with its ETag, 304 when unchanged, 404 while the Fleet has no revision', async () => {
    const token = await enroll('t-1', 'f1');
    const first = await call('GET', '/v1/fleets/f1/target', { token });
    assert.equal(first.status, 200);
    assert.equal(first.headers.etag, '"r-1"');
    const body = first.json();
    assert.equal(body.revision, 'r-1');
    assert.deepEqual(body.bundle, { digest: bundleDigest, size: bundleBytes.length, url: `/v1/fleets/f1/bundles/${bundleDigest}` });
    assert.deepEqual(
      (body.rules as Array<{ repository: string }>).map((r) => r.repository),
      ['ghcr.io/acme/app'],
    );
    assert.equal((await call('GET', '/v1/fleets/f1/target', { token, headers: { 'if-none-match': '"r-1"' } })).status, 304);
    assert.equal((await call('GET', '/v1/fleets/f1/target', { token, headers: { 'if-none-match': '"r-0"' } })).status, 200);
    const emptyToken = await enroll('t-empty', 'empty');
    const none = await call('GET', '/v1/fleets/empty/target', { token: emptyToken });
    assert.equal(none.status, 404);
    assert.equal(none.json().error, 'no-revision');
    assert.match(none.json().message!, /has no revision yet/);
  });

  it('holds a long-poll until the fleet changes, then answers early with the new target', async () => {
    const token = await enroll('t-2', 'f1');
    const started = Date.now();
    const held = call('GET', '/v1/fleets/f1/target?wait=60', { token, headers: { 'if-none-match': '"r-1"' } });
    await waitFor('the poll to be held', async () => api.openPolls > 0 || undefined, { timeoutMs: 5000 });
    // A change of another fleet, or one that does not change this target, wakes nobody.
    fleets.set(fleet('f2', revision('r-10', otherDigest)));
    fleets.set(fleet('f1', revision('r-1')));
    assert.ok(api.openPolls > 0);
    fleets.set(fleet('f1', { ...revision('r-2'), commit: 'd'.repeat(40) }));
    const answer = await held;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.etag, '"r-2"');
    assert.equal(answer.json().commit, 'd'.repeat(40));
    assert.ok(Date.now() - started < 30_000);
    fleets.set(fleet('f1', revision('r-1')));
  });

  it('answers 304 at the deadline', async () => {
    const token = await enroll('t-3', 'f1');
    const started = Date.now();
    const answer = await call('GET', '/v1/fleets/f1/target?wait=1', { token, headers: { 'if-none-match': '"r-1"' } });
    assert.equal(answer.status, 304);
    assert.equal(answer.headers.etag, '"r-1"');
    assert.ok(Date.now() - started >= 900);
  });

  it('serves a bundle of the fleet with immutable cache headers, its digest and length; 404 for one not of the fleet', async () => {
    const token = await enroll('b-1', 'f1');
    const answer = await call('GET', `/v1/fleets/f1/bundles/${bundleDigest}`, { token });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, bundleBytes.toString());
    assert.equal(answer.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(answer.headers.etag, `"${bundleDigest}"`);
    assert.equal(answer.headers['content-length'], String(bundleBytes.length));
    assert.equal(answer.headers['x-doris-bundle-sha256'], bundleDigest.slice(7));
    assert.equal((await call('GET', `/v1/fleets/f1/bundles/${bundleDigest}`, { token, headers: { 'if-none-match': `"${bundleDigest}"` } })).status, 304);
    const foreign = await call('GET', `/v1/fleets/f1/bundles/${otherDigest}`, { token });
    assert.equal(foreign.status, 404);
    assert.match(foreign.json().message!, /not one of Fleet f1's revisions/);
  });

  it('stores a report (204) once; an identical one writes nothing', async () => {
    const token = await enroll('r-dev', 'f1');
    const before = kube.writes.filter((w) => w.includes('/r-dev/status')).length;
    for (let i = 0; i < 3; i++) {
      assert.equal((await call('PUT', '/v1/fleets/f1/devices/r-dev/report', { token, body: JSON.stringify(goodReport()) })).status, 204);
    }
    assert.equal(kube.writes.filter((w) => w.includes('/r-dev/status')).length - before, 1);
    assert.equal(devices.get('r-dev')?.status?.report?.reason, 'Synced');
  });

  it('never logs a token', () => {
    assert.ok(issuedTokens.length > 5);
    for (const token of issuedTokens) {
      assert.equal(logText.includes(token), false);
      const secret = token.includes('.') ? token.slice(token.lastIndexOf('.') + 1) : token;
      assert.equal(logText.includes(secret), false);
    }
  });
});

describe('hub API: enrollment throttling', () => {
  it('answers an address past its refused enrollments 429 with Retry-After, before any API call; refusals are logged at debug', async () => {
    const throttling = new HubApi({
      log,
      metrics: new HubMetrics({ defaultMetrics: false }),
      devices,
      fleets,
      bundles: { get: async () => undefined },
      tokens,
      options: { enrollFailuresPerMinute: 3 },
    });
    const own = createServer((req, res) => void throttling.handle(req, res));
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const ownPort = (own.address() as AddressInfo).port;
    const guess = (i: number) => call('POST', '/v1/enroll', { port: ownPort, body: enrollBody('f1', 'guessed', `guess-${i}-${'x'.repeat(40)}`) });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await guess(i)).status, 401);
      const over = await guess(3);
      assert.equal(over.status, 429);
      assert.equal(over.json().error, 'throttled');
      assert.equal(over.headers['retry-after'], '60');
      const gets = kube.counts.GET ?? 0;
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(100 + i)));
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([429]));
      assert.ok(answers.every((a) => Number(a.headers['retry-after']) >= 1 && Number(a.headers['retry-after']) <= 60));
      assert.equal((kube.counts.GET ?? 0) - gets, 0, 'a throttled attempt costs no API call');
      // Per address: another client (127.0.0.2 is loopback too) is not held up.
      const other = await call('POST', '/v1/enroll', { port: ownPort, from: '127.0.0.2', body: enrollBody('f1', 'guessed', `other-${'x'.repeat(40)}`) });
      assert.equal(other.status, 401);
    } finally {
      own.closeAllConnections();
      await new Promise((resolve) => own.close(resolve));
    }
    const refusals = logText
      .split('\n')
      .filter((line) => line.includes('unknown enrollment token'))
      .map((line) => JSON.parse(line) as { level: number });
    assert.ok(refusals.length >= 3);
    assert.deepEqual(new Set(refusals.map((r) => r.level)), new Set([20]), 'debug, not info');
  });
});

describe('hub API: shutdown', () => {
  it('answers held polls 503 with a Retry-After, and refuses new requests', async () => {
    const token = await enroll('s-1', 'f1');
    const held = call('GET', '/v1/fleets/f1/target?wait=60', { token, headers: { 'if-none-match': '"r-1"' } });
    await waitFor('the poll to be held', async () => api.openPolls > 0 || undefined, { timeoutMs: 5000 });
    api.closeAll();
    const answer = await held;
    assert.equal(answer.status, 503);
    assert.equal(answer.json().error, 'shutting-down');
    const retry = Number(answer.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 5, String(answer.headers['retry-after']));
    assert.equal(api.openPolls, 0);
    assert.equal((await call('GET', '/v1/fleets/f1/target', { token })).status, 503);
  });
});
