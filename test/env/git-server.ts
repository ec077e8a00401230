/**
 * A real git smart-HTTP server for tests: node's http server in front of `git http-backend`
 * (CGI), with basic auth. Every repository under the root folder is served at
 * `/<name>.git`; pushes are allowed for the authenticated user.
 *
 * Run as its own process by the test environment:
 *   tsx test/env/git-server.ts <port> <reposDir>
 * with GIT_USERNAME and GIT_TOKEN in the environment (never on the command line).
 */
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const [portArg, reposDir] = process.argv.slice(2);
const username = process.env.GIT_USERNAME ?? '';
const token = process.env.GIT_TOKEN ?? '';
if (!portArg || !reposDir || !username || !token) {
  console.error('usage: git-server.ts <port> <reposDir> (GIT_USERNAME and GIT_TOKEN in the environment)');
  process.exit(2);
}

function authorized(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const expected = Buffer.from(`${username}:${token}`);
  const given = Buffer.from(decoded);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return username;
}

function serveCgi(req: IncomingMessage, res: ServerResponse, user: string): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: reposDir,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
    REMOTE_USER: user,
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
    HTTP_GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
  };
  const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  req.pipe(cgi.stdin);
  let headerBuffer = Buffer.alloc(0);
  let headersDone = false;
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    headerBuffer = Buffer.concat([headerBuffer, chunk]);
    const text = headerBuffer.toString('latin1');
    let end = text.indexOf('\r\n\r\n');
    let sepLength = 4;
    if (end < 0) {
      end = text.indexOf('\n\n');
      sepLength = 2;
    }
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of text.slice(0, end).split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    res.write(headerBuffer.subarray(Buffer.byteLength(text.slice(0, end), 'latin1') + sepLength));
  });
  cgi.on('close', (code) => {
    if (!headersDone) {
      res.statusCode = 500;
      res.end(`git http-backend exited with ${code}`);
    } else res.end();
    console.log(`${req.method} ${url.pathname}${url.search} ${res.statusCode} ${JSON.stringify(req.headers['user-agent'] ?? '')}`);
  });
}

const server = createServer((req, res) => {
  const user = authorized(req);
  if (!user) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="doris-testenv git"' });
    res.end('authentication required\n');
    console.log(`${req.method} ${req.url} 401 ${JSON.stringify(req.headers['user-agent'] ?? '')}`);
    return;
  }
  serveCgi(req, res, user);
});
server.listen(Number(portArg), '127.0.0.1', () => console.log(`git server on 127.0.0.1:${portArg} serving ${reposDir}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
