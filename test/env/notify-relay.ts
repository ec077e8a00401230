/**
 * Relays the registry's notifications to listeners that tests choose at run time.
 *
 * The registry's notification endpoints are fixed in its config when it starts; tests need
 * to point them at their own listener. The registry posts to this relay, which forwards
 * every envelope to each subscribed URL (loopback only).
 *   POST   /notify            the registry's endpoint
 *   POST   /subscribe         body {"url": "http://127.0.0.1:PORT/path"} -> {"id": "..."}
 *   DELETE /subscribe/<id>
 *
 * Run: tsx test/env/notify-relay.ts <port>
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';

const port = Number(process.argv[2]);
const subscribers = new Map<string, string>();

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]');
}

const server = createServer(async (req, res) => {
  const body = await readBody(req);
  if (req.method === 'POST' && req.url === '/notify') {
    res.writeHead(200).end();
    await Promise.all(
      [...subscribers.values()].map((url) =>
        fetch(url, {
          method: 'POST',
          headers: {
            'content-type': req.headers['content-type'] ?? 'application/json',
            ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          },
          body,
          signal: AbortSignal.timeout(5000),
        }).catch((error: unknown) => console.log(`forward to ${url} failed: ${String(error)}`)),
      ),
    );
    console.log(`relayed ${body.length} bytes to ${subscribers.size} listener(s)`);
    return;
  }
  if (req.method === 'POST' && req.url === '/subscribe') {
    let url: URL;
    try {
      url = new URL((JSON.parse(body.toString('utf8')) as { url: string }).url);
    } catch {
      res.writeHead(400).end('body must be {"url": "..."}\n');
      return;
    }
    if (!isLoopback(url)) {
      res.writeHead(400).end('only loopback http listeners are allowed\n');
      return;
    }
    const id = randomUUID();
    subscribers.set(id, url.toString());
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
    return;
  }
  if (req.method === 'DELETE' && req.url?.startsWith('/subscribe/')) {
    subscribers.delete(req.url.slice('/subscribe/'.length));
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});
server.listen(port, '127.0.0.1', () => console.log(`notification relay on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
