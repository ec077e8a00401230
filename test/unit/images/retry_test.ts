import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ImageResolveError, RegistryClient } from '../../../src/source/registry/index.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from '../../../src/source/registry/retry.js';

describe('retry policy', () => {
  it('retries 429 and 5xx, nothing else', () => {
    assert.deepEqual([200, 401, 403, 404, 429, 500, 502, 503].map(isRetryableStatus), [false, false, false, false, true, true, true, true]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  it('doubles the backoff up to its bound, with at most half of it as jitter', () => {
    const options = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 1)),
      [100, 200, 400, 800, 1000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 0)),
      [50, 100, 200, 400, 500],
    );
  });
});

/**
 * A registry on 127.0.0.1 that answers from `routes` (by `METHOD path`, else by path); a route's body is sent in
 * 64 KiB chunks, with backpressure, and `finished` says whether all of it went out.
 */
async function registry(routes: Record<string, { status: number; headers?: Record<string, string>; bytes?: number; body?: string }>) {
  const log = { finished: [] as string[], closed: [] as string[] };
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const route = routes[`${req.method} ${path}`] ?? routes[path] ?? { status: 404 };
    res.writeHead(route.status, route.headers);
    if (req.method === 'HEAD' || route.bytes === undefined) return res.end(route.body);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const write = (): void => {
      while (sent < route.bytes! && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', write);
      }
      res.end(() => log.finished.push(path));
    };
    res.on('close', () => log.closed.push(path));
    write();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, log, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const noDigestHead = { status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } };

describe('registry answers are read up to a limit', () => {
  it('refuses a manifest over 4 MiB, naming the registry and the limit, and aborts the request', async () => {
    const r = await registry({ '/v2/acme/app/manifests/main': { ...noDigestHead, bytes: 64 * 1024 * 1024 } });
    try {
      const client = new RegistryClient(undefined, { maxRetries: 0 });
      await assert.rejects(client.resolveDigest(`${r.host}/acme/app`, 'main'), (error: Error) => {
        assert.ok(error instanceof ImageResolveError);
        assert.equal(error.message, `image ${r.host}/acme/app:main: the answer from ${r.host} is larger than the limit of 4194304 bytes; refused`);
        return true;
      });
      assert.deepEqual(r.log.finished, [], 'the registry could not send its 64 MiB');
    } finally {
      await r.close();
    }
  });

  it('refuses a token service reply over 64 KiB, naming the token service and never the token', async () => {
    const realm = await registry({ '/token': { status: 200, body: JSON.stringify({ token: `secret-${'t'.repeat(80 * 1024)}` }) } });
    const challenged = await registry({
      '/v2/acme/app/manifests/main': { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="x"` } },
    });
    try {
      const client = new RegistryClient(undefined, { maxRetries: 0 });
      await assert.rejects(client.resolveDigest(`${challenged.host}/acme/app`, 'main'), (error: Error) => {
        assert.equal(error.message, `image ${challenged.host}/acme/app:main: the answer from ${realm.host} is larger than the limit of 65536 bytes; refused`);
        assert.ok(!error.message.includes('secret-'));
        return true;
      });
    } finally {
      await Promise.all([realm.close(), challenged.close()]);
    }
  });

  it('refuses a 401 body over 64 KiB, and still reads a manifest within the limit', async () => {
    const manifest = JSON.stringify({ schemaVersion: 2, layers: [] });
    const r = await registry({
      '/v2/acme/app/manifests/main': { ...noDigestHead, body: manifest },
      '/v2/acme/locked/manifests/main': noDigestHead,
      'GET /v2/acme/locked/manifests/main': { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' }, bytes: 1024 * 1024 },
    });
    try {
      const client = new RegistryClient(undefined, { maxRetries: 0 });
      assert.equal(await client.resolveDigest(`${r.host}/acme/app`, 'main'), `sha256:${createHash('sha256').update(manifest).digest('hex')}`);
      await assert.rejects(
        client.resolveDigest(`${r.host}/acme/locked`, 'main'),
        /the answer from 127\.0\.0\.1:\d+ is larger than the limit of 65536 bytes; refused$/,
      );
    } finally {
      await r.close();
    }
  });
});
