import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Pipeline, parsePipelineSpec } from '../../../src/api/pipeline.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { deliver } from '../../../src/notify/deliver.js';
import { Notifier } from '../../../src/notify/dispatcher.js';
import { memoryLogger } from '../../fake/logs.js';

const sha = 'c'.repeat(40);
let server: Server;
let base: string;
const hits: string[] = [];
let release: (() => void) | undefined;
/** `/order`: the kinds answered 2xx, in order; the first request of all is refused (503). */
const ordered: string[] = [];
let refusedOne = false;

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    if (req.url === '/redirect') {
      res.writeHead(302, { location: `${base}/elsewhere` });
      res.end();
    } else if (req.url === '/missing-route') {
      res.writeHead(404);
      res.end();
    } else if (req.url === '/order') {
      const kind = String(req.headers['x-doris-event']);
      if (refusedOne) {
        ordered.push(kind);
        res.end('{}');
      } else {
        refusedOne = true;
        res.writeHead(503);
        res.end();
      }
    } else if (req.url === '/slow') {
      release = () => res.end('{}');
    } else res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A client that knows one Secret, as the dispatcher reads it. */
function client(secrets: Record<string, Record<string, string>>): KubeClient {
  return {
    get: async (key: { name: string }) => {
      const data = secrets[key.name];
      return data ? { data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } : undefined;
    },
  } as unknown as KubeClient;
}

const pipeline: Pipeline = { apiVersion: 'doris.dev/v1alpha1', kind: 'Pipeline', metadata: { name: 'edge', namespace: 'doris-system' }, spec: {} };
const applied = [{ commit: sha, result: 'Succeeded', message: 'applied', counts: { created: 1, configured: 0, unchanged: 0, recreated: 0, pruned: 0 } }];

describe('the dispatcher', () => {
  it('returns before delivery; flush waits for it; a timed-out flush says so', async () => {
    const log = memoryLogger();
    const notifier = new Notifier(client({ s: { secret: 'k' } }), log.logger, { namespace: 'doris-system', cluster: 'c' });
    const spec = parsePipelineSpec({ git: { url: 'https://github.com/a/b' }, notify: [{ type: 'generic', url: `${base}/slow`, secretRef: { name: 's' } }] });
    notifier.syncEnded(pipeline, spec, applied);
    assert.equal(await notifier.flush(200), false, 'the receiver has not answered yet');
    await new Promise<void>((resolve) => {
      const wait = () => (release ? resolve() : setTimeout(wait, 10));
      wait();
    });
    release!();
    assert.equal(await notifier.flush(5000), true);
    assert.match(log.text(), /notification sent/);
  });

  it('delivers to one receiver in the order sent, even when the first is retried', async () => {
    const log = memoryLogger();
    const notifier = new Notifier(client({ s: { secret: 'k' } }), log.logger, {
      namespace: 'doris-system',
      cluster: 'hub',
      retry: { attempts: 3, firstDelayMs: 300, maxDelayMs: 300, timeoutMs: 2000 },
    });
    const spec = { notify: [{ type: 'generic' as const, url: `${base}/order`, secretRef: { name: 's' } }] };
    const notice = (kind: 'RolloutHalted' | 'RolledBack') => ({
      kind,
      cluster: 'hub',
      commit: sha,
      reason: kind,
      message: kind,
      time: new Date(0).toISOString(),
    });
    // Sent one after the other in the same tick, as the rollout driver sends a halt and its rollback.
    notifier.send(spec, notice('RolloutHalted'));
    notifier.send(spec, notice('RolledBack'));
    assert.equal(await notifier.flush(10_000), true);
    assert.deepEqual(ordered, ['RolloutHalted', 'RolledBack'], 'the rollback waits for the halt, which is retried once');
  });

  it('a missing Secret or key is a log line naming the Secret, never an exception; the secret is never logged', async () => {
    const log = memoryLogger();
    const notifier = new Notifier(client({ s: { other: 'v' }, t: { token: 'tok-123456' } }), log.logger, { namespace: 'doris-system', cluster: 'c' });
    const spec = parsePipelineSpec({
      git: { url: 'https://github.com/a/b' },
      notify: [
        { type: 'generic', url: `${base}/a`, secretRef: { name: 'missing' } },
        { type: 'generic', url: `${base}/b`, secretRef: { name: 's' } },
        { type: 'github', apiUrl: `${base}/api`, secretRef: { name: 't' } },
      ],
    });
    assert.doesNotThrow(() => notifier.syncEnded(pipeline, spec, applied));
    assert.equal(await notifier.flush(5000), true);
    assert.match(log.text(), /Secret doris-system\/missing not found/);
    assert.match(log.text(), /Secret doris-system\/s has no \\"secret\\" key/);
    assert.ok(hits.includes(`/api/repos/a/b/statuses/${sha}`));
    assert.ok(!log.text().includes('tok-123456'));
  });

  it('a redirect is not followed (the request may carry a token) and not retried', async () => {
    const before = hits.length;
    const result = await deliver({ url: `${base}/redirect`, headers: {}, body: '{}' }, { attempts: 3, firstDelayMs: 1, maxDelayMs: 1, timeoutMs: 2000 });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /redirects are not followed/);
    assert.deepEqual(hits.slice(before), ['/redirect']);
  });

  it('a receiver that refuses (4xx) is not retried; one that is unreachable is, then given up', async () => {
    const refused = await deliver({ url: `${base}/missing-route`, headers: {}, body: '{}' }, { attempts: 3, firstDelayMs: 1, maxDelayMs: 1, timeoutMs: 2000 });
    assert.deepEqual([refused.ok, refused.status, refused.attempts], [false, 404, 1]);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await deliver(
      { url: `http://127.0.0.1:${port}/x`, headers: {}, body: '{}' },
      { attempts: 3, firstDelayMs: 1, maxDelayMs: 1, timeoutMs: 2000 },
    );
    assert.deepEqual([down.ok, down.attempts], [false, 3]);
    assert.equal(down.error, 'ECONNREFUSED');
  });
});
