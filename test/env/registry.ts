/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution v2) with htpasswd
 * auth, deletes enabled, an access log (so tests can count HEAD and GET requests), and
 * notifications sent to the relay (`notify-relay.ts`), which forwards them to listeners that
 * tests choose.
 *
 * Like GHCR and Docker Hub, it does not list its repositories: the registry listens on a
 * private loopback port behind `registry-front.ts`, which answers `/v2/_catalog` with 404 and
 * passes everything else through. The front, on the environment's `REGISTRY` port, is the
 * one process recorded; it stops the registry with itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { repoRoot } from './paths.js';
import { freePort } from './ports.js';
import { startDaemon, waitFor, type Daemon } from './proc.js';

export interface RegistryOptions {
  dir: string;
  /** Where clients reach the registry (the front that refuses the catalog). */
  port: number;
  relayPort: number;
  username: string;
  password: string;
  /** Bearer token the registry sends with its notifications. */
  notifyToken: string;
}

export async function startRegistry(options: RegistryOptions): Promise<Daemon> {
  const dir = join(options.dir, 'registry');
  mkdirSync(join(dir, 'data'), { recursive: true });
  // Go's bcrypt reads the $2a$ prefix; bcryptjs writes $2b$ for the same algorithm.
  const hash = bcrypt.hashSync(options.password, 8).replace(/^\$2b\$/, '$2a$');
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${options.username}:${hash}\n`, { mode: 0o600 });
  const registryPort = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    JSON.stringify(
      {
        version: 0.1,
        log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
        storage: {
          filesystem: { rootdirectory: join(dir, 'data') },
          delete: { enabled: true },
          cache: { blobdescriptor: 'inmemory' },
        },
        http: { addr: `127.0.0.1:${registryPort}`, secret: randomBytes(16).toString('hex') },
        auth: { htpasswd: { realm: 'doris-testenv', path: htpasswd } },
        notifications: {
          endpoints: [
            {
              name: 'relay',
              url: `http://127.0.0.1:${options.relayPort}/notify`,
              headers: { Authorization: [`Bearer ${options.notifyToken}`] },
              timeout: '2s',
              threshold: 3,
              backoff: '1s',
            },
          ],
        },
      },
      null,
      2,
    ),
    { mode: 0o600 },
  );
  const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
  const front = join(repoRoot, 'test', 'env', 'registry-front.ts');
  const daemon = startDaemon('registry', tsx, [front, String(options.port), String(registryPort), config]);
  await waitFor(
    'registry /v2/ (through its front)',
    async () => {
      const res = await fetch(`http://127.0.0.1:${options.port}/v2/`).catch(() => undefined);
      return res?.status === 401;
    },
    { daemon, timeoutMs: 30_000 },
  );
  return daemon;
}
