/**
 * Change latency: one file changed and pushed, then the time until the cluster shows the
 * change (the probe ConfigMap, watched). The clock starts when the push returns.
 *
 * - poll: the `doris run` controller with its shortest useful poll interval (1 s), finding
 *   the new commit on its own;
 * - webhook: the controller with a 10-minute poll interval, told by a signed GitHub push
 *   event sent right after the push;
 * - sync_once: a fresh `doris sync --once` process started right after the push (what a
 *   CronJob's next tick costs, start-up included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeHttp } from '../src/kube/http.js';
import { dorisEnv } from '../test/env/doris.js';
import { repoRoot } from '../test/env/paths.js';
import { freePorts } from '../test/env/ports.js';
import { pushFiles, type TestEnv } from '../test/env/testenv.js';
import type { Runtime } from './build.js';
import { generateWorkload } from './workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProbeTarget {
  repo: string;
  pipeline: string;
  controllerNamespace: string;
  workDir: string;
  objects: number;
  prefix: string;
  run: string;
}

/**
 * When the probe ConfigMap's REVISION became `revision`: the moment a watch of it, from a list
 * of it, delivers that version (or the list itself shows it). A watch times the change to
 * when the API server sends it, and adds no load while it waits; polling with GETs (every 10 ms
 * before) both lagged the change by up to the period and kept a request in flight on the
 * two cores the measured controller and API server share.
 */
export async function waitForRevision(api: KubeHttp, namespace: string, name: string, revision: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const path = `/api/v1/namespaces/${namespace}/configmaps`;
  const fieldSelector = `metadata.name=${name}`;
  type ConfigMapList = { metadata?: { resourceVersion?: string }; items?: Array<{ data?: Record<string, string> }> };
  type Event = { type?: string; object?: { data?: Record<string, string> } };
  const reached = (object?: { data?: Record<string, string> }) => object?.data?.REVISION === String(revision);
  while (Date.now() < deadline) {
    const list = await api.request<ConfigMapList>('GET', path, { query: { fieldSelector } });
    if (list.body.items?.some(reached)) return performance.now();
    const stop = new AbortController();
    let seenAt: number | undefined;
    const timer = setTimeout(() => stop.abort(), Math.max(0, deadline - Date.now()));
    try {
      await api.stream(
        path,
        { fieldSelector, resourceVersion: list.body.metadata?.resourceVersion, watch: 1, timeoutSeconds: 60 },
        (raw) => {
          const event = raw as Event;
          if ((event.type === 'ADDED' || event.type === 'MODIFIED') && reached(event.object)) {
            seenAt ??= performance.now();
            stop.abort();
          }
        },
        stop.signal,
      );
    } catch (error) {
      if (seenAt === undefined && !stop.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
    }
    if (seenAt !== undefined) return seenAt;
    // The watch ended (its timeout, or history compacted): list again.
  }
  throw new Error(`ConfigMap ${namespace}/${name} did not reach REVISION ${revision} within ${timeoutMs / 1000}s`);
}

/** Pushes the probe file at `revision`; resolves when the push is done. */
async function pushRevision(
  env: TestEnv,
  target: ProbeTarget,
  revision: number,
): Promise<{ pushedAt: number; namespace: string; name: string; commit: string }> {
  const workload = generateWorkload(target.objects, target.prefix, target.run, revision);
  const { probe } = workload;
  const commit = await pushFiles(env, target.repo, { [probe.file]: workload.files[probe.file]! }, `bench: probe revision ${revision}`);
  return { pushedAt: performance.now(), namespace: probe.namespace, name: probe.name, commit };
}

function startNode(env: TestEnv, args: string[], logFile?: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: dorisEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      if (logFile) writeFileSync(logFile, stdout + stderr);
      resolve({ code, stderr: stderr.slice(-4000) });
    }),
  );
  return { child, done };
}

/** A fresh `doris sync --once` started right after the push. */
export async function syncOnceLatency(env: TestEnv, api: KubeHttp, runtime: Runtime, target: ProbeTarget, revision: number): Promise<number> {
  const { pushedAt, namespace, name } = await pushRevision(env, target, revision);
  const seen = waitForRevision(api, namespace, name, revision);
  const { done } = startNode(env, [
    ...runtime.argsFor('src/cli/main.ts'),
    '--kubeconfig',
    env.KUBECONFIG,
    '--namespace',
    target.controllerNamespace,
    '--work-dir',
    target.workDir,
    'sync',
    '--once',
    '--repo',
    target.repo,
    '--name',
    target.pipeline,
  ]);
  const result = await done;
  if (result.code !== 0) throw new Error(`doris sync --once failed (${result.code}): ${result.stderr}`);
  return ((await seen) - pushedAt) / 1000;
}

/** Whether this checkout has the `doris run` controller. */
export function hasController(): boolean {
  return existsSync(join(repoRoot, 'src', 'cli', 'run.ts'));
}

interface RunningController {
  port: number;
  secret: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Sum of a Prometheus counter's samples whose labels contain `pipeline="<name>"`. */
function counter(metrics: string, name: string, pipeline: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`pipeline="${pipeline}"`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A signed GitHub push of `commit` to the controller's webhook; throws unless it is accepted (202). */
export async function sendPushWebhook(controller: { port: number; secret: string }, repo: string, commit: string): Promise<Response> {
  const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: repo } }));
  const res = await fetch(`http://127.0.0.1:${controller.port}/hooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-hub-signature-256': `sha256=${createHmac('sha256', controller.secret).update(body).digest('hex')}`,
    },
    body,
  });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
  return res;
}

async function startController(env: TestEnv, runtime: Runtime, target: ProbeTarget, pollInterval: string, logFile: string): Promise<RunningController> {
  const [port] = (await freePorts(1)) as [number];
  const secretDir = mkdtempSync(join(tmpdir(), 'doris-bench-hook-'));
  const secret = `bench-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(secretDir, 'github'), secret, { mode: 0o600 });
  const { child, done } = startNode(
    env,
    [
      ...runtime.argsFor('src/cli/main.ts'),
      '--kubeconfig',
      env.KUBECONFIG,
      '--namespace',
      target.controllerNamespace,
      '--work-dir',
      target.workDir,
      'run',
      '--listen',
      `127.0.0.1:${port}`,
      '--webhook-secret-file',
      join(secretDir, 'github'),
      '--poll-interval',
      pollInterval,
      '--lease-duration',
      '5s',
      '--lease-renew',
      '1s',
    ],
    logFile,
  );
  let exited = false;
  void done.then(() => (exited = true));
  const metrics = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.text();
  };
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await done;
    rmSync(secretDir, { recursive: true, force: true });
  };
  // Ready, leading, and the first sync (a no-op resync of the probe Pipeline) done.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`doris run exited early: ${(await done).stderr}`);
    const text = await metrics().catch(() => '');
    if (/^doris_leader 1$/m.test(text) && counter(text, 'doris_syncs_total', target.pipeline) >= 1) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`doris run did not lead and sync ${target.pipeline} within 120 s (log: ${logFile})`);
    }
    await sleep(100);
  }
  return { port, secret, metrics, stop };
}

/** Waits until the controller finished the sync in flight (its sync counter moved past `after`). */
async function syncsAfter(controller: RunningController, pipeline: string, after: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = counter(await controller.metrics(), 'doris_syncs_total', pipeline);
    if (n > after) return n;
    if (Date.now() > deadline) throw new Error(`no sync of ${pipeline} finished within ${timeoutMs / 1000}s`);
    await sleep(50);
  }
}

/** `doris run` polling every second: push, and wait for the controller to find and apply it. */
export async function controllerPollLatency(
  env: TestEnv,
  api: KubeHttp,
  runtime: Runtime,
  target: ProbeTarget,
  revisions: number[],
  logFile: string,
): Promise<number[]> {
  const controller = await startController(env, runtime, target, '1s', logFile);
  try {
    const samples: number[] = [];
    for (const revision of revisions) {
      // Start at a random point of the poll cycle, as a real push would.
      await sleep(Math.random() * 1000);
      const { pushedAt, namespace, name } = await pushRevision(env, target, revision);
      samples.push(((await waitForRevision(api, namespace, name, revision)) - pushedAt) / 1000);
    }
    return samples;
  } finally {
    await controller.stop();
  }
}

/** `doris run` with a 10-minute poll interval, triggered by a signed GitHub push event. */
export async function controllerWebhookLatency(
  env: TestEnv,
  api: KubeHttp,
  runtime: Runtime,
  target: ProbeTarget,
  revisions: number[],
  logFile: string,
): Promise<number[]> {
  const controller = await startController(env, runtime, target, '10m', logFile);
  try {
    const samples: number[] = [];
    for (const revision of revisions) {
      const before = counter(await controller.metrics(), 'doris_syncs_total', target.pipeline);
      const { pushedAt, namespace, name, commit } = await pushRevision(env, target, revision);
      const res = await sendPushWebhook(controller, target.repo, commit);
      const answer = (await res.json()) as { triggered?: string[] };
      if (!answer.triggered?.includes(target.pipeline)) throw new Error(`webhook triggered ${JSON.stringify(answer.triggered)}, not ${target.pipeline}`);
      samples.push(((await waitForRevision(api, namespace, name, revision)) - pushedAt) / 1000);
      await syncsAfter(controller, target.pipeline, before);
    }
    return samples;
  } finally {
    await controller.stop();
  }
}
