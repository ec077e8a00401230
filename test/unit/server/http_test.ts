import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { Pipeline } from '../../../src/api/pipeline.js';
import { WebhookCredentials } from '../../../src/cli/run.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics.js';
import type { ClusterSource } from '../../../src/server/cluster-source.js';
import { createDashboard } from '../../../src/server/dashboard.js';
import { createHttpServer, type ServerDeps } from '../../../src/server/http.js';
import { FailureThrottle } from '../../../src/server/throttle.js';

type LogLine = { level: number; msg: string; [key: string]: unknown };

/** A logger at debug level whose lines the test can read, or wait for. */
function capture() {
  const lines: LogLine[] = [];
  const waiters: Array<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of waiters.filter((w) => w.test(line))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      done();
    },
  });
  return {
    logger: createLogger({ level: 'debug', destination }),
    lines,
    /** The first line, logged already or to come, that passes `test`. */
    when: (test: (line: LogLine) => boolean) =>
      new Promise<LogLine>((resolve) => {
        const found = lines.find(test);
        if (found) resolve(found);
        else waiters.push({ test, resolve });
      }),
  };
}

const servers: Server[] = [];
const sockets: Socket[] = [];
const folders: string[] = [];
after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function serve(deps: Partial<ServerDeps> = {}) {
  const log = capture();
  const server = createHttpServer({
    log: log.logger,
    metrics: new Metrics(),
    ready: () => true,
    githubSecret: () => 's3',
    onGithubPush: () => [],
    onRegistryPush: () => [],
    bodyLimitBytes: 1000,
    ...deps,
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  /** The server's side of each request, in the order they arrived. */
  const received: Array<{ req: IncomingMessage; res: ServerResponse }> = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => received.push({ req, res }));
  return { server, port, log, received };
}

/** A connection that sends what the test writes; `answer` is everything received once it is closed. */
async function raw(port: number): Promise<{ socket: Socket; answer: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.on('data', (data) => {
    text += String(data);
  });
  socket.on('error', () => {});
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
  await once(socket, 'connect');
  return { socket, answer };
}

const hookHead = (length: number, extra = '') => `POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${extra}\r\n`;

/** Resolves once the server has seen `count` requests. */
function requests(server: Server, received: unknown[], count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (received.length < count) return;
      server.off('request', check);
      resolve();
    };
    server.on('request', check);
    check();
  });
}

describe('the controller HTTP server under slow or hostile clients', () => {
  it('cuts a client that is slow to send its headers, or its body', { timeout: 5_000 }, async () => {
    const { port, log } = await serve({ timeouts: { headersMs: 100, requestMs: 200, checkEveryMs: 20 } });
    const headers = await raw(port);
    headers.socket.write('POST /hooks/github HTTP/1.1\r\nHost: x\r\n');
    const body = await raw(port);
    body.socket.write(hookHead(1000) + 'x'.repeat(500));
    assert.match(await headers.answer, /^HTTP\/1\.1 408 /);
    assert.match(await body.answer, /^HTTP\/1\.1 408 /);
    const line = await log.when((l) => l.path === '/hooks/github');
    assert.equal(line.level, 20, `the cut request was logged at level ${line.level}: ${line.msg}`);
  });

  it('logs a client that went away mid-body at debug level, not as a failure', async () => {
    const { server, port, log, received } = await serve();
    const client = await raw(port);
    client.socket.write(hookHead(1000) + 'x'.repeat(500));
    await requests(server, received, 1);
    client.socket.destroy();
    const line = await log.when((l) => l.path === '/hooks/github');
    assert.equal(line.level, 20, `logged at level ${line.level}: ${line.msg}`);
    assert.deepEqual(
      log.lines.filter((l) => l.level >= 50),
      [],
    );
  });

  it('refuses bodies past the budget of bodies being received at once (503, closed), and frees it as they end', async () => {
    const { server, port, received } = await serve({ bodyLimitBytes: 1000, bodyBufferLimitBytes: 2000 });
    const stalled = [await raw(port), await raw(port)];
    for (const s of stalled) s.socket.write(hookHead(1000) + 'x'.repeat(10));
    await requests(server, received, 2);
    const third = await raw(port);
    third.socket.write(hookHead(1000));
    await requests(server, received, 3);
    assert.equal(received[2]!.res.writableEnded, true, 'the third body was not refused');
    const answer = await third.answer;
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /connection: close/i);
    assert.match(answer, /at most 2000/);

    stalled[0]!.socket.destroy();
    await once(received[0]!.res, 'close');
    const fourth = await raw(port);
    fourth.socket.write(hookHead(1000, 'Connection: close\r\n') + 'x'.repeat(1000));
    assert.match(await fourth.answer, /^HTTP\/1\.1 401 /, 'a body fits again once one ended');
  });

  it('answers a malformed request target 400, without an error log', async () => {
    const { port, log } = await serve();
    const client = await raw(port);
    client.socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = await client.answer;
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /malformed request target/);
    assert.deepEqual(
      log.lines.filter((l) => l.level >= 50),
      [],
    );
  });
});

const noSecret = { get: async () => undefined } as unknown as KubeClient;

describe('webhook credential files', () => {
  it('an unreadable --webhook-secret-file is "not configured" (503), warned once', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'doris-hook-'));
    folders.push(folder);
    const log = capture();
    const credentials = new WebhookCredentials(noSecret, 'doris-system', 'doris-webhook', { github: join(folder, 'missing') }, log.logger, 0);
    const { port, log: serverLog } = await serve({ githubSecret: () => credentials.github() });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/hooks/github`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /not configured/);
    }
    assert.equal(log.lines.filter((l) => l.level === 40 && /credential file/.test(l.msg)).length, 1);
    assert.deepEqual(
      serverLog.lines.filter((l) => l.level >= 50),
      [],
    );
  });
});

const tokens = { operator: 'operator-secret-token', viewer: 'viewer-secret-token' };

async function dashboardServer() {
  const pipelines: Pipeline[] = [
    {
      apiVersion: 'doris.dev/v1alpha1',
      kind: 'Pipeline',
      metadata: { name: 'web', namespace: 'doris-system' },
      spec: { git: { url: 'https://bob:ghp_SECRETTOKEN@github.com/o/r.git' } },
    },
  ];
  const source: ClusterSource = {
    pipelines: () => pipelines.slice(),
    activity: () => undefined,
    objects: async () => [],
    sync: () => true,
    setSuspend: async () => {},
    preview: async () => ({ commit: 'c', diffs: [], problems: [] }),
    subscribe: () => () => {},
  };
  const log = capture();
  const dashboard = createDashboard(source, { mode: 'token', tokens: () => tokens }, log.logger);
  const served = await serve({ dashboard });
  return served;
}

/** POST /login with `token`, from the loopback address `from`; the status. */
async function login(port: number, token: string, from: string): Promise<number> {
  const body = `token=${encodeURIComponent(token)}&next=%2F`;
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    localAddress: from,
    method: 'POST',
    path: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    agent: false,
  });
  req.end(body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.resume();
  await once(res, 'end');
  return res.statusCode ?? 0;
}

describe('dashboard logins', () => {
  it('throttle the failures of one client address only, and always let the right token in', async () => {
    const { port } = await dashboardServer();
    for (let i = 0; i < 20; i++) assert.equal(await login(port, `guess-${i}`, '127.0.0.2'), 401);
    assert.equal(await login(port, 'guess-20', '127.0.0.2'), 429, 'the guessing address is throttled');
    assert.equal(await login(port, tokens.viewer, '127.0.0.2'), 303, 'the right token still logs in');
    assert.equal(await login(port, 'typo', '127.0.0.1'), 401, 'another address is not throttled');
    assert.equal(await login(port, tokens.operator, '127.0.0.1'), 303);
  });

  it('remember a bounded number of client addresses, forgetting the least recently failing first', () => {
    const failures = new FailureThrottle(2, 3);
    const now = Date.now();
    for (const client of ['a', 'a', 'b', 'c', 'd']) assert.equal(failures.fail(client, now), false, client);
    assert.equal(failures.size, 3);
    assert.equal(failures.fail('a', now), false, 'a was forgotten');
    assert.equal(failures.throttledFor('d', now), undefined);
    assert.equal(failures.fail('d', now), false);
    assert.equal(failures.throttledFor('d', now + 1_000), 59_000, 'throttled until its oldest failure is a minute old');
    assert.equal(failures.fail('d', now), true, 'd failed twice already');
    assert.equal(failures.throttledFor('d', now + 60_000), undefined);
  });
});

describe('the dashboard and its API', () => {
  it('never show the credentials of a Pipeline’s git URL', async () => {
    const { port } = await dashboardServer();
    const headers = { authorization: `Bearer ${tokens.viewer}` };
    const api = await fetch(`http://127.0.0.1:${port}/api/pipelines/web`, { headers });
    assert.equal(api.status, 200);
    const model = (await api.json()) as { git: { url: string } };
    assert.equal(model.git.url, 'https://***@github.com/o/r.git');
    const page = await fetch(`http://127.0.0.1:${port}/pipelines/web`, { headers });
    assert.equal(page.status, 200);
    const text = await page.text();
    assert.match(text, /github\.com\/o\/r\.git/);
    assert.doesNotMatch(text, /ghp_SECRETTOKEN|bob:/);
  });
});
