/**
 * The test registry as GHCR and Docker Hub present themselves: Debian's `docker-registry`
 * behind a small loopback proxy that refuses `/v2/_catalog` (GHCR answers 404, Docker Hub's
 * token service grants no catalog scope), so that nothing in DORIS can come to rely on
 * listing a registry's repositories. Every other request passes through unchanged, with its
 * `Host` header, so the registry's upload URLs and the `request.host` of its notifications
 * name this front, the address tests and DORIS use.
 *
 * One process for the test environment to record: this front starts the registry as its
 * child, stops it (by its PID) on SIGTERM or SIGINT, and exits when the registry exits.
 *
 * Run: tsx test/env/registry-front.ts <port> <registryPort> <registry config>
 */
import { spawn } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';

const [portArg, upstreamArg, config] = process.argv.slice(2);
const port = Number(portArg);
const upstreamPort = Number(upstreamArg);
if (!Number.isInteger(port) || !Number.isInteger(upstreamPort) || !config) {
  console.error('usage: registry-front.ts <port> <registryPort> <registry config>');
  process.exit(2);
}

/** What GHCR answers to a catalog request: the distribution API's error shape, 404. */
const catalogRefusal = JSON.stringify({
  errors: [{ code: 'NOT_FOUND', message: '404 page not found', detail: 'this registry does not list its repositories' }],
});

const registry = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'inherit', 'inherit'] });
registry.on('error', (error) => {
  console.error(`registry-front: could not start docker-registry: ${error.message}`);
  process.exit(1);
});
let stopping = false;
registry.on('exit', (code, signal) => {
  console.log(`registry-front: docker-registry exited (${signal ?? `code ${code}`}); stopping`);
  process.exit(stopping ? 0 : (code ?? 1));
});

const agent = new Agent({ keepAlive: true });
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/v2/_catalog' || path === '/v2/_catalog/') {
    console.log(`registry-front: refused ${req.method} ${req.url} (404, as GHCR does)`);
    res.writeHead(404, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
    res.end(req.method === 'HEAD' ? undefined : catalogRefusal);
    return;
  }
  const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`registry-front: the registry is unreachable: ${error.message}\n`);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.listen(port, '127.0.0.1', () => console.log(`registry-front: 127.0.0.1:${port} -> docker-registry on 127.0.0.1:${upstreamPort}; /v2/_catalog refused`));

function stop(): void {
  stopping = true;
  server.close();
  agent.destroy();
  if (registry.pid !== undefined && registry.exitCode === null) process.kill(registry.pid, 'SIGTERM');
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
