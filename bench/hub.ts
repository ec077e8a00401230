/**
 * `npm run bench -- hub [--agents N]`: one `doris hub` (compiled, its own ServiceAccount)
 * against N simulated agents (bench/hub-agents.ts, two processes) speaking the real protocol.
 *
 *   1. N Devices are created with their token hashes (what enrollment writes; enrollment
 *      itself is proven in the end-to-end tests), and the agents connect;
 *   2. steady state, one minute: hub RSS and CPU, API-server writes by the hub, upstream
 *      requests (scaled to an hour);
 *   3. a commit pushed to the git server, announced by a signed GitHub webhook: seconds until
 *      each agent has the new target (p50, p99) and until all bundles are downloaded;
 *   4. the hub killed (SIGKILL) and started again: the largest number of reconnect attempts
 *      in any one second, and the time until every agent holds a long-poll again;
 *   5. a staged rollout (1% canary, 10% early, the rest; no soak): seconds from the push until
 *      each stage is complete, and the hub's CPU meanwhile.
 *
 * Writes bench/results/hub.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { hubAccountName, hubRbacObjects } from '../src/hub/install.js';
import { hashToken, newDeviceToken } from '../src/hub/tokens.js';
import { hubNodeFlags } from '../src/install/nodeflags.js';
import { auditMark, readAuditSince, writesBy } from '../test/env/audit.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../test/env/identity.js';
import { repoRoot } from '../test/env/paths.js';
import { freePort } from '../test/env/ports.js';
import { waitFor } from '../test/env/proc.js';
import { createRepo, kube, pushFiles, type TestEnv } from '../test/env/testenv.js';
import type { Runtime } from './build.js';
import { processCpuS, statusMiB } from './proc.js';

interface HubBenchDeps {
  env: TestEnv;
  runtime: Runtime;
  log: (line: string) => void;
  resultsDir: string;
  machine: string;
}

const fleet = 'bench';
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** RSS (MiB) and CPU time (s) of a process, from /proc. */
function procStats(pid: number): { rssMiB: number; cpuS: number } {
  return { rssMiB: statusMiB(pid, 'VmRSS'), cpuS: processCpuS(pid) ?? Number.NaN };
}

function waveFiles(version: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= 20; i += 1) {
    files[`deploy/1-app/${10 + i}-config-${i}.yml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${i}\ndata:\n  version: "${version}"\n`;
  }
  return files;
}

export async function benchHub(argv: string[], deps: HubBenchDeps): Promise<void> {
  const { env, runtime, log } = deps;
  let agents = 10_000;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--agents') agents = Number(argv[++i]);
    else throw new Error(`unknown option ${argv[i]} (npm run bench -- hub [--agents N])`);
  }
  if (!Number.isInteger(agents) || agents < 2) throw new Error('--agents needs an integer of at least 2');
  const api = await kube(env);
  const run = Date.now().toString(36);
  const ns = `hub-bench-${run}`;
  const work = join(env.TESTENV_DIR, `hub-bench-${run}`);
  mkdirSync(work, { recursive: true });
  const children: ChildProcess[] = [];
  let hub: ChildProcess | undefined;
  const hubPort = await freePort();
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const githubSecret = randomBytes(16).toString('hex');
  writeFileSync(join(work, 'github-secret'), githubSecret, { mode: 0o600 });
  let hubKubeconfig = '';
  let rssPeak = 0;

  const startHub = async (): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      [
        // The node flags of the hub's Deployment (src/install/nodeflags.ts).
        ...hubNodeFlags,
        ...runtime.argsFor('src/cli/main.ts'),
        'hub',
        '--listen',
        `127.0.0.1:${hubPort}`,
        '--namespace',
        ns,
        '--github-secret-file',
        join(work, 'github-secret'),
        '--work-dir',
        join(work, 'hub'),
      ],
      { cwd: repoRoot, env: { ...process.env, KUBECONFIG: hubKubeconfig, DORIS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await waitFor('hub ready', async () => (await fetch(`${hubUrl}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 120_000 });
    return child;
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${hubUrl}/metrics`)).text();
    let sum = 0;
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm'))) sum += Number(match[1]);
    return sum;
  };

  try {
    log(`hub: ${agents} simulated agents`);
    const { url: repoUrl } = await createRepo(env, 'hub-bench', waveFiles('1'));
    await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    const { connectKube } = await import('../src/kube/client.js');
    const admin = await connectKube(env.KUBECONFIG);
    for (const object of hubRbacObjects(ns)) await admin.apply(object, { manager: 'doris-bench' });
    admin.close();
    hubKubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git' }, stringData: { username: env.GIT_USERNAME, token: env.GIT_TOKEN } },
    });
    hub = await startHub();
    const sampler = setInterval(() => {
      try {
        if (hub?.pid) rssPeak = Math.max(rssPeak, procStats(hub.pid).rssMiB);
      } catch {
        // the hub is being restarted
      }
    }, 250);
    sampler.unref();
    await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets`, {
      body: {
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Fleet',
        metadata: { name: fleet },
        spec: { git: { url: repoUrl, branch: 'main', path: 'deploy', secretRef: { name: 'git' }, interval: '30s' } },
      },
    });

    // 1. Devices as enrollment writes them, then the agents.
    const started = performance.now();
    const tokens: string[] = [];
    const limit = pLimit(16);
    await Promise.all(
      Array.from({ length: agents }, (_, i) =>
        limit(async () => {
          const device = `sim-${i}`;
          const token = newDeviceToken(device);
          await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices`, {
            body: {
              apiVersion: 'hub.doris.dev/v1alpha1',
              kind: 'Device',
              // Rollout stages of the last phase: 1% canary, 10% early, the rest.
              metadata: {
                name: device,
                labels: { 'hub.doris.dev/fleet': fleet, ...(i % 100 === 0 ? { tier: 'canary' } : i % 10 === 1 ? { tier: 'early' } : {}) },
              },
              spec: { fleet, tokenHash: hashToken(token) },
            },
          });
          tokens.push(token);
        }),
      ),
    );
    log(`hub: ${agents} Devices created in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const events: Array<{ e: string; rev?: string; t: number }> = [];
    for (const [k, part] of [tokens.slice(0, agents / 2), tokens.slice(agents / 2)].entries()) {
      const file = join(work, `agents-${k}.json`);
      writeFileSync(file, JSON.stringify({ hub: hubUrl, fleet, tokens: part, waitSeconds: 300 }), { mode: 0o600 });
      const child = spawn(process.execPath, [...runtime.argsFor('bench/hub-agents.ts'), file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      let buffer = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line) events.push(JSON.parse(line) as { e: string; rev?: string; t: number });
      });
      children.push(child);
    }
    const allPolling = async () => (await metric('doris_hub_open_long_polls')) >= agents;
    await waitFor('every agent holds a long-poll', allPolling, { timeoutMs: 600_000, intervalMs: 1000 });
    log(`hub: all ${agents} agents connected ${((performance.now() - started) / 1000).toFixed(1)} s after the start`);

    // 2. Steady state: once the writes of the first connections (reports, presence) have drained.
    const hubUser = serviceAccountUser(ns, hubAccountName);
    let settleMark = auditMark(env.AUDIT_LOG);
    await waitFor(
      'the first reports written',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const writes = writesBy(readAuditSince(env.AUDIT_LOG, settleMark), hubUser).length;
        settleMark = auditMark(env.AUDIT_LOG);
        return writes === 0;
      },
      { timeoutMs: 900_000, intervalMs: 0 },
    );
    log(`hub: the first reports are written ${((performance.now() - started) / 1000).toFixed(1)} s after the start`);
    const steadyMs = 120_000;
    const before = { stats: procStats(hub.pid!), upstream: await metric('doris_hub_upstream_requests_total'), audit: auditMark(env.AUDIT_LOG) };
    await new Promise((resolve) => setTimeout(resolve, steadyMs));
    const afterSteady = { stats: procStats(hub.pid!), upstream: await metric('doris_hub_upstream_requests_total') };
    const hubWrites = writesBy(readAuditSince(env.AUDIT_LOG, before.audit), hubUser).length;
    const steady = {
      rss: afterSteady.stats.rssMiB,
      cpuPercent: ((afterSteady.stats.cpuS - before.stats.cpuS) / (steadyMs / 1000)) * 100,
      upstreamPerH: ((afterSteady.upstream - before.upstream) * 3_600_000) / steadyMs,
      writesPerMin: (hubWrites * 60_000) / steadyMs,
    };
    log(`hub: steady RSS ${steady.rss.toFixed(0)} MiB, CPU ${steady.cpuPercent.toFixed(1)} %, ${steady.writesPerMin} writes/min`);

    // 3. A push, announced by a signed webhook as GitHub sends it.
    const mark = events.length;
    const pushedAt = Date.now();
    await pushFiles(env, repoUrl, waveFiles('2'), 'v2');
    const body = JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: repoUrl, html_url: repoUrl.replace(/\.git$/, '') } });
    const signature = `sha256=${createHmac('sha256', githubSecret).update(body).digest('hex')}`;
    const hook = await fetch(`${hubUrl}/hooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
      body,
    });
    if (!hook.ok) log(`hub: the webhook was answered ${hook.status}; the push is found by the poll instead`);
    const initialRevisions = new Set(events.slice(0, mark).map((e) => e.rev));
    const newTargets = () => events.slice(mark).filter((e) => e.e === 'target' && !initialRevisions.has(e.rev));
    await waitFor(
      'every agent has the new target and its bundle',
      async () => events.slice(mark).filter((e) => e.e === 'bundle' && !initialRevisions.has(e.rev)).length >= agents,
      {
        timeoutMs: 300_000,
        intervalMs: 200,
      },
    );
    const notify = newTargets().map((e) => (e.t - pushedAt) / 1000);
    // What of that is the hub's own work (fetch, render, bundle, status) before any device is told.
    const published = (
      await api.request<{ status?: { revision?: { createdAt?: string } } }>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleet}`)
    ).body.status?.revision?.createdAt;
    const publishS = published ? (Date.parse(published) - pushedAt) / 1000 : Number.NaN;
    const bundles = events
      .slice(mark)
      .filter((e) => e.e === 'bundle' && !initialRevisions.has(e.rev))
      .map((e) => (e.t - pushedAt) / 1000);
    log(
      `hub: new target p50 ${percentile(notify, 50).toFixed(2)} s, p99 ${percentile(notify, 99).toFixed(2)} s; all bundles in ${Math.max(...bundles).toFixed(2)} s`,
    );

    // 4. Restart.
    hub.kill('SIGKILL');
    await new Promise((resolve) => hub?.once('close', resolve));
    const killedAt = Date.now();
    const restartMark = events.length;
    hub = await startHub();
    await waitFor('every agent holds a long-poll again', allPolling, { timeoutMs: 600_000, intervalMs: 500 });
    const reconnectS = (Date.now() - killedAt) / 1000;
    const perSecond = new Map<number, number>();
    for (const e of events.slice(restartMark)) if (e.e === 'retry') perSecond.set(Math.floor(e.t / 1000), (perSecond.get(Math.floor(e.t / 1000)) ?? 0) + 1);
    const spike = Math.max(0, ...perSecond.values());
    log(`hub: reconnected in ${reconnectS.toFixed(1)} s; at most ${spike} reconnect attempts in one second`);

    // 5. A staged rollout: 1% canary, 10% early, the rest; no soak.
    const fleetPath = `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleet}`;
    await api.request('PATCH', fleetPath, {
      body: {
        spec: {
          rollout: {
            stages: [
              { name: 'canary', selector: { matchLabels: { tier: 'canary' } }, soak: '0s' },
              { name: 'early', selector: { matchLabels: { tier: 'early' } }, soak: '0s' },
            ],
          },
        },
      },
      contentType: 'application/merge-patch+json',
    });
    type Stage = { name: string; completedAt?: string };
    const rolloutOf = async () =>
      (await api.request<{ status?: { rollout?: { state?: string; revision?: string; stages?: Stage[] } } }>('GET', fleetPath)).body.status?.rollout;
    await waitFor('the policy is taken up', async () => (await rolloutOf())?.state === 'Complete', { timeoutMs: 120_000 });
    const previousRevision = (await rolloutOf())?.revision;
    const rolloutStart = { at: Date.now(), stats: procStats(hub.pid!) };
    await pushFiles(env, repoUrl, waveFiles('3'), 'v3');
    await fetch(`${hubUrl}/hooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${createHmac('sha256', githubSecret).update(body).digest('hex')}`,
      },
      body,
    });
    const stageDone = new Map<string, number>();
    await waitFor(
      'the staged rollout completes',
      async () => {
        const rollout = await rolloutOf();
        if (!rollout || rollout.revision === previousRevision) return false;
        for (const stage of rollout.stages ?? []) if (stage.completedAt && !stageDone.has(stage.name)) stageDone.set(stage.name, Date.now());
        return rollout.state === 'Complete';
      },
      { timeoutMs: 900_000, intervalMs: 250 },
    );
    const rolloutEnd = { at: Date.now(), stats: procStats(hub.pid!) };
    const stagesS = Object.fromEntries([...stageDone].map(([name, at]) => [name, round((at - rolloutStart.at) / 1000)]));
    const rolloutCpu = ((rolloutEnd.stats.cpuS - rolloutStart.stats.cpuS) / ((rolloutEnd.at - rolloutStart.at) / 1000)) * 100;
    log(`hub: staged rollout ${JSON.stringify(stagesS)} s after the push; hub CPU ${rolloutCpu.toFixed(0)} % meanwhile`);
    clearInterval(sampler);

    const result = {
      date: new Date().toISOString(),
      machine: deps.machine,
      runtime: runtime.kind,
      agents,
      notify_p50_s: round(percentile(notify, 50)),
      notify_p99_s: round(percentile(notify, 99)),
      hub_publish_s: round(publishS),
      bundles_all_s: round(Math.max(...bundles)),
      upstream_requests_per_h: round(steady.upstreamPerH, 0),
      rss_peak_mib: round(rssPeak, 0),
      rss_steady_mib: round(steady.rss, 0),
      cpu_steady_percent: round(steady.cpuPercent, 1),
      writes_per_min_idle: round(steady.writesPerMin, 1),
      reconnect_s: round(reconnectS, 1),
      reconnect_max_per_s: spike,
      webhook_status: hook.status,
      stages_s: stagesS,
      rollout_cpu_percent: round(rolloutCpu, 0),
      rollout_rss_end_mib: round(rolloutEnd.stats.rssMiB, 0),
    };
    mkdirSync(deps.resultsDir, { recursive: true });
    writeFileSync(join(deps.resultsDir, 'hub.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    hub?.kill('SIGTERM');
    await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] }).catch(() => undefined);
    for (const object of hubRbacObjects(ns).filter((o) => !o.metadata.namespace)) {
      const path = `/apis/rbac.authorization.k8s.io/v1/${object.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}/${object.metadata.name}`;
      await api.request('DELETE', path, { accept: [404] }).catch(() => undefined);
    }
    if (hubKubeconfig) rmSync(hubKubeconfig, { force: true });
    rmSync(work, { recursive: true, force: true });
    api.close();
  }
}
