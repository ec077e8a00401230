/**
 * The agent's side of the hub protocol with plain data: the client against a small HTTP
 * server on 127.0.0.1 that answers as the protocol says (the real hub is proven end to end in
 * test/e2e/hub_agents_test.ts), the backoff, the hub's digests as an image resolver.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { backoffDelay } from '../../../src/controller/hub-follower.js';
import { deviceReport } from '../../../src/controller/hub-sync.js';
import type { Target } from '../../../src/hub/protocol.js';
import { writeTar } from '../../../src/hub/tar.js';
import { HubClient, HubImages, HubSource } from '../../../src/source/hub.js';

const token = 'edge-1.c2VjcmV0LXNlY3JldC1zZWNyZXQ';
const bundle = gzipSync(
  writeTar([
    { path: '1-app', type: 'directory', executable: false, data: Buffer.alloc(0) },
    { path: '1-app/10-cm.yml', type: 'file', executable: false, data: Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n') },
  ]),
);
const digest = `sha256:${createHash('sha256').update(bundle).digest('hex')}`;
const commit = 'a'.repeat(40);
const target: Target = {
  fleet: 'edge',
  revision: 'r-0123456789abcdef',
  commit,
  bundle: { digest, size: bundle.length, url: `/v1/fleets/edge/bundles/${digest}` },
  rules: [],
  images: [],
};

let server: Server;
let base: string;
const requests: string[] = [];
/** What the bundle route serves (a test swaps in other bytes). */
let served = bundle;
/** What the target route serves (a test swaps in another). */
let servedTarget: unknown = target;

before(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Unauthorized', message: 'unknown device' }));
      return;
    }
    if (req.url?.startsWith('/v1/fleets/edge/target')) {
      if (req.headers['if-none-match'] === `"${target.revision}"`) res.writeHead(304).end();
      else res.writeHead(200, { etag: `"${target.revision}"`, 'content-type': 'application/json' }).end(JSON.stringify(servedTarget));
      return;
    }
    if (req.url === `/v1/fleets/edge/bundles/${digest}`) {
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(served);
      return;
    }
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('HubClient', () => {
  it('gets the target with its ETag, and nothing when the ETag still matches', async () => {
    const client = new HubClient(base, token);
    const first = await client.target('edge', undefined, 0);
    assert.equal(first?.target.commit, commit);
    assert.equal(first?.etag, `"${target.revision}"`);
    assert.equal(await client.target('edge', first?.etag, 0), undefined);
  });

  it('says a refused token is a credentials failure, with what to do, and never repeats the token', async () => {
    const client = new HubClient(base, 'edge-1.zzhiddenzz');
    await assert.rejects(client.target('edge', undefined, 0), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CredentialsFailed');
      assert.match(error.message, /401 unknown device .*enroll again/);
      assert.doesNotMatch(error.message, /zzhiddenzz|c2VjcmV0/);
      return true;
    });
  });

  it('refuses a bundle whose bytes do not match its digest', async () => {
    served = Buffer.from('not the bundle');
    try {
      await assert.rejects(new HubClient(base, token).bundle('edge', digest), /does not match its digest/);
    } finally {
      served = bundle;
    }
  });

  it('refuses a target whose commit is not a commit id (it names folders on the device)', async () => {
    try {
      for (const commit of ['../../../etc/x', 'A'.repeat(40), 'a'.repeat(39), 'a'.repeat(65), 12, undefined]) {
        servedTarget = { ...target, commit };
        await assert.rejects(
          new HubClient(base, token).target('edge', undefined, 0),
          /the hub sent a target whose commit is not a git commit id/,
          String(commit),
        );
      }
      servedTarget = { ...target, commit: 'b'.repeat(64) };
      assert.equal((await new HubClient(base, token).target('edge', undefined, 0))?.target.commit, 'b'.repeat(64));
    } finally {
      servedTarget = target;
    }
  });

  it('refuses a digest that is not one before asking', async () => {
    const before = requests.length;
    await assert.rejects(new HubClient(base, token).bundle('edge', 'sha256:../../etc'), /invalid bundle digest/);
    assert.equal(requests.length, before);
  });
});

describe('HubSource', () => {
  it('unpacks the verified bundle as the wave folder, and downloads it once per digest', async () => {
    const work = mkdtempSync(join(tmpdir(), 'doris-hub-agent-'));
    try {
      const source = new HubSource(new HubClient(base, token), target, join(work, 'cache'));
      // An earlier revision's bundle: dropped once this one is downloaded.
      mkdirSync(join(work, 'cache'), { recursive: true });
      writeFileSync(join(work, 'cache', `sha256-${'0'.repeat(64)}.tgz`), 'old');
      assert.equal(await source.resolve(), commit);
      const downloads = () => requests.filter((r) => r.includes('/bundles/')).length;
      const before = downloads();
      const dir = await source.checkout(commit, join(work, 'checkouts'));
      assert.match(readFileSync(join(dir, source.path, '1-app', '10-cm.yml'), 'utf8'), /kind: ConfigMap/);
      await source.checkout(commit, join(work, 'checkouts'));
      assert.equal(downloads() - before, 1);
      assert.deepEqual(readdirSync(join(work, 'cache')), [`${digest.replace(':', '-')}.tgz`], 'only the current bundle is kept');
      await assert.rejects(source.fetchCommit('b'.repeat(40)), /target is aaaaaaaaaaaa, not bbbbbbbbbbbb/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('backoffDelay (full jitter)', () => {
  const options = { baseBackoffMs: 2_000, maxBackoffMs: 120_000 };
  it('waits between zero and a ceiling that doubles per failure up to the maximum', () => {
    assert.equal(
      backoffDelay(1, options, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(1, options, () => 0.5),
      1_000,
    );
    assert.equal(
      backoffDelay(3, options, () => 0.5),
      4_000,
    );
    assert.equal(
      backoffDelay(30, options, () => 0.999_999),
      119_999,
    );
  });
  it('spreads agents that failed together over the whole window', () => {
    const delays = Array.from({ length: 1000 }, () => backoffDelay(4, options));
    assert.ok(Math.min(...delays) < 1_000 && Math.max(...delays) > 15_000, `${Math.min(...delays)}..${Math.max(...delays)}`);
  });
});

describe('HubImages', () => {
  it("pins the hub's digests and reports what changed since the device's last run", async () => {
    const d1 = `sha256:${'1'.repeat(64)}`;
    const d2 = `sha256:${'2'.repeat(64)}`;
    const images = new HubImages([{ rule: 'r/app:main', repository: 'r/app', tag: 'main', digest: d2 }]);
    const result = await images.resolve([], [{ rule: 'r/app:main', repository: 'r/app', tag: 'main', digest: d1 }], undefined, { now: new Date(0) });
    assert.equal(result.tracked.get('r/app')?.digest, d2);
    assert.deepEqual(result.changes, [{ repository: 'r/app', tag: 'main', from: d1, to: d2, at: new Date(0).toISOString() }]);
    assert.deepEqual(result.unresolved, []);
  });
});

describe('deviceReport', () => {
  it('reports the revision, the commit, the result and the digests running', () => {
    const report = deviceReport(
      { commit, result: 'Succeeded', message: 'applied', counts: { created: 1, configured: 0, unchanged: 0, recreated: 0, pruned: 0 }, wrote: true },
      { ...target, images: [{ rule: 'r/app:main', repository: 'r/app', tag: 'main', digest: `sha256:${'3'.repeat(64)}` }] },
    );
    assert.equal(report.ready, 'True');
    assert.equal(report.revision, target.revision);
    assert.deepEqual(report.images, [{ repository: 'r/app', digest: `sha256:${'3'.repeat(64)}` }]);
    const failed = deviceReport({ commit: '', result: 'HealthCheckFailed', message: 'x'.repeat(5000), counts: report.counts!, wrote: true }, target);
    assert.equal(failed.ready, 'False');
    assert.equal(failed.commit, undefined);
    assert.equal(failed.message.length, 2048);
  });
});
