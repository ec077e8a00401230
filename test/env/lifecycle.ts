/**
 * Brings up (and down) the real test environment of SPEC.md section 9 on loopback ports:
 * the control plane (cluster.ts), a git smart-HTTP server (git-server.ts), an sshd serving the
 * same repositories over SSH (sshd.ts), an OCI registry
 * (registry.ts) and its notification relay. `up` waits until everything is ready and writes
 * a shell-sourceable `.testenv/env`; `down` stops every process it started, by PID.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryPath, ensureBinaries } from './build.js';
import { startCluster } from './cluster.js';
import { ensureTools } from './tools.js';
import { envFile, logDir, repoRoot, stateDir, stateFile } from './paths.js';
import { freePorts } from './ports.js';
import { ensureDebianPackages } from './prereqs.js';
import { isAlive, startDaemon, stopPid, waitFor, type Daemon } from './proc.js';
import { startRegistry } from './registry.js';
import { startSshd } from './sshd.js';
import { formatEnvFile, loadTestEnv, type TestEnv } from './testenv.js';

interface State {
  startedAt: string;
  daemons: Daemon[];
}

const log = (line: string) => console.error(`testenv: ${line}`);

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, 'utf8')) as State;
}

/** The PIDs of the running environment's daemons, by name (none when it is not running). */
export function daemonPids(): Record<string, number> {
  return Object.fromEntries((readState()?.daemons ?? []).map((d) => [d.name, d.pid]));
}

function writeState(state: State): void {
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
}

const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');

export async function up(): Promise<TestEnv> {
  const existing = readState();
  if (existing?.daemons.every((d) => isAlive(d.pid)) && existsSync(envFile)) {
    log(`already up (since ${existing.startedAt}); env in ${envFile}`);
    return loadTestEnv();
  }
  if (existing) await down();
  const started = Date.now();
  await ensureDebianPackages(log);
  await ensureBinaries(log);
  // kustomize and sops, which DORIS runs while rendering, and age-keygen for the tests' keys.
  await ensureTools(log);

  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const state: State = { startedAt: new Date().toISOString(), daemons: [] };
  // Record every daemon as soon as it starts, so that `down` can stop a half-started set.
  const track = (daemon: Daemon) => {
    state.daemons.push(daemon);
    writeState(state);
    return daemon;
  };
  try {
    const cluster = await startCluster(stateDir, log);
    cluster.daemons.forEach(track);

    const [gitPort, registryPort, relayPort, sshPort] = (await freePorts(4)) as [number, number, number, number];
    const gitUser = 'doris';
    const gitToken = randomBytes(20).toString('hex');
    const reposDir = join(stateDir, 'git');
    mkdirSync(reposDir, { recursive: true });
    log(`git server on 127.0.0.1:${gitPort}`);
    const git = track(
      startDaemon('git-server', tsx, [join(repoRoot, 'test/env/git-server.ts'), String(gitPort), reposDir], {
        env: { ...process.env, GIT_USERNAME: gitUser, GIT_TOKEN: gitToken },
      }),
    );
    const ssh = await startSshd({ dir: join(stateDir, 'sshd'), port: sshPort, reposDir, log });
    track(ssh.daemon);
    log(`notification relay on 127.0.0.1:${relayPort}`);
    const relay = track(startDaemon('notify-relay', tsx, [join(repoRoot, 'test/env/notify-relay.ts'), String(relayPort)]));
    const registryUser = 'doris';
    const registryPassword = randomBytes(20).toString('hex');
    const notifyToken = randomBytes(20).toString('hex');
    log(`registry on 127.0.0.1:${registryPort}`);
    track(
      await startRegistry({
        dir: stateDir,
        port: registryPort,
        relayPort,
        username: registryUser,
        password: registryPassword,
        notifyToken,
      }),
    );
    await waitFor('git server', async () => (await fetch(`http://127.0.0.1:${gitPort}/`).catch(() => undefined))?.status === 401, {
      daemon: git,
    });
    await waitFor('notification relay', async () => (await fetch(`http://127.0.0.1:${relayPort}/`).catch(() => undefined))?.status === 404, {
      daemon: relay,
    });

    const env: TestEnv = {
      KUBECONFIG: cluster.kubeconfig,
      APISERVER_URL: cluster.apiserverUrl,
      AUDIT_LOG: cluster.auditLog,
      GIT_BASE_URL: `http://127.0.0.1:${gitPort}`,
      GIT_USERNAME: gitUser,
      GIT_TOKEN: gitToken,
      GIT_REPOS_DIR: reposDir,
      GIT_SSH_BASE_URL: ssh.baseUrl,
      GIT_SSH_KEY: ssh.keyFile,
      GIT_SSH_KNOWN_HOSTS: ssh.knownHostsFile,
      REGISTRY: `127.0.0.1:${registryPort}`,
      REGISTRY_USERNAME: registryUser,
      REGISTRY_PASSWORD: registryPassword,
      REGISTRY_NOTIFY_TOKEN: notifyToken,
      REGISTRY_LOG: join(logDir, 'registry.log'),
      NOTIFY_RELAY_URL: `http://127.0.0.1:${relayPort}`,
      TESTENV_DIR: stateDir,
      KUBECTL: await binaryPath('kubectl'),
    };
    writeFileSync(envFile, formatEnvFile(env), { mode: 0o600 });
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; source ${envFile}`);
    return env;
  } catch (error) {
    log(`start failed; stopping what was started (logs in ${logDir})`);
    await down();
    throw error;
  }
}

export async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    log('not up');
    return;
  }
  // Reverse order: clients (kwok, controllers) before the API server, etcd last.
  for (const daemon of [...state.daemons].reverse()) {
    await stopPid(daemon.pid);
  }
  rmSync(stateFile, { force: true });
  rmSync(envFile, { force: true });
  log(`stopped ${state.daemons.length} processes`);
}

export function status(): number {
  const state = readState();
  if (!state) {
    console.log('down');
    return 1;
  }
  let allAlive = true;
  for (const daemon of state.daemons) {
    const alive = isAlive(daemon.pid);
    allAlive &&= alive;
    console.log(`${daemon.name.padEnd(24)} pid ${String(daemon.pid).padEnd(8)} ${alive ? 'running' : 'STOPPED'}  ${daemon.log}`);
  }
  console.log(allAlive ? `up since ${state.startedAt}; env in ${envFile}` : 'degraded: run down, then up');
  return allAlive ? 0 : 1;
}
