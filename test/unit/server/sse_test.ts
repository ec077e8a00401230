import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SseHub } from '../../../src/server/ui/sse.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(hub: SseHub): Promise<string> {
  const server = createServer((req, res) => {
    const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic') ?? '*';
    hub.open(req, res, [topic]);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Reads the stream until `until` matches what arrived, or the stream ends. */
async function read(res: Response, until: RegExp): Promise<string> {
  const reader = res.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += Buffer.from(value).toString('utf8');
    if (until.test(text)) {
      await reader.cancel();
      return text;
    }
  }
}

describe('server-sent events', () => {
  it('tell each page about its topics only, coalesced', async () => {
    const hub = new SseHub({ maxClients: 4, heartbeatMs: 60_000, coalesceMs: 50 });
    const url = await serve(hub);
    const web = await fetch(`${url}/?topic=pipeline:web`);
    const list = await fetch(`${url}/?topic=list`);
    assert.equal(web.headers.get('content-type'), 'text/event-stream');
    while (hub.size < 2) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) hub.notify('pipeline:web');
    hub.notify('list');
    const [a, b] = await Promise.all([read(web, /event: update\ndata: .*\n\n/), read(list, /event: update\ndata: .*\n\n/)]);
    assert.equal(a.match(/event: update/g)?.length, 1, 'ten changes, one update');
    assert.match(a, /data: \{"topics":\["pipeline:web"\]\}/);
    assert.match(b, /data: \{"topics":\["list"\]\}/);
    hub.close();
  });

  it('past the bound ends the oldest stream, not the new one, and close() ends every stream', async () => {
    const hub = new SseHub({ maxClients: 2, heartbeatMs: 60_000, coalesceMs: 10 });
    const url = await serve(hub);
    const first = await fetch(`${url}/`);
    const second = await fetch(`${url}/`);
    const third = await fetch(`${url}/`);
    assert.deepEqual([first.status, second.status, third.status], [200, 200, 200]);
    // The first stream ends (the browser reconnects after its `retry`); the others stay.
    assert.match(await read(first, /$^/), /^retry: 3000\n\n$/);
    assert.equal(hub.size, 2);
    const ended = Promise.all([read(second, /$^/), read(third, /$^/)]);
    hub.close();
    assert.deepEqual(await ended, ['retry: 3000\n\n', 'retry: 3000\n\n']);
    assert.equal((await fetch(`${url}/`)).status, 503, 'a closed hub opens nothing');
  });
});
