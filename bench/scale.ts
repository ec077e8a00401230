/**
 * `npm run bench -- scale` (issue 15): how DORIS grows, under its shipped least-privilege
 * ServiceAccount, installed into a namespace of its own for the run.
 *
 *   1. many Pipelines (first, on a cluster not yet busy deleting): N Pipelines of 100 objects
 *      each in one `doris run` with 1 m intervals: time until all are Ready, steady RSS,
 *      API-server and git requests per minute at steady state, and a change pushed to one of
 *      them applied by polling within its interval + 2 s;
 *   2. growth curve: one Pipeline of 1,000 / 2,000 / 5,000 / 10,000 objects in 10 waves (the
 *      mix of bench/workload.ts), each point a cold sync and a no-op resync in one process
 *      (bench/sync-child.ts): seconds, writes (audit log), peak RSS, the Pipeline's status
 *      size in bytes; the growth exponent of cold and no-op time is fitted over the points;
 *   3. small (the first point, 1,000 objects by default): its peak RSS and no-op, and the
 *      change-to-applied latency of a signed GitHub webhook to a `doris run` controller.
 *
 * Each phase's namespaces are deleted before the next starts, waiting at most `--delete-wait`
 * seconds (the rest of a large deletion may overlap the next phase; the log says so).
 * Writes bench/results/scale.json.
 *
 *   npm run bench -- scale                                  # 1,000..10,000 objects, 100 Pipelines
 *   npm run bench -- scale --points 1000 --pipelines 10     # a quick run
 *   npm run bench -- scale --points 1000 --pipelines 0 --profile /tmp/prof   # CPU profile + heap snapshot
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { dorisNodeFlags } from '../src/install/nodeflags.js';
import type { MarkingState } from '../src/runtime/marking.js';
import { installObjects } from '../src/install/manifests.js';
import { connectKube } from '../src/kube/client.js';
import { ensurePipelineCrd } from '../src/status/store.js';
import type { KubeHttp } from '../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../test/env/audit.js';
import { dorisEnv } from '../test/env/doris.js';
import { removeInstall, serviceAccountKubeconfig, serviceAccountUser } from '../test/env/identity.js';
import { daemonPids } from '../test/env/lifecycle.js';
import { statusMiB } from './proc.js';
import { repoRoot } from '../test/env/paths.js';
import { freePorts } from '../test/env/ports.js';
import { createRepo, kube, pushFiles, type TestEnv } from '../test/env/testenv.js';
import type { Runtime } from './build.js';
import { deleteNamespaces, deletePipeline } from './cluster.js';
import { sendPushWebhook, waitForRevision } from './latency.js';
import { pipelineWorkload } from './scale-workload.js';
import { runSyncChild } from './sync-child-run.js';
import { generateWorkload, waveCount } from './workload.js';

interface ScaleDeps {
  env: TestEnv;
  runtime: Runtime;
  log: (line: string) => void;
  resultsDir: string;
  machine: string;
}

interface ScaleOptions {
  points: number[];
  pipelines: number;
  pipelineObjects: number;
  /** Folder for a CPU profile and a heap snapshot of the first point's process. */
  profile?: string;
  /** How long a phase waits for its namespaces to be deleted before the next one starts. */
  deleteWaitS: number;
  webhookSamples: number;
  /** Extra V8 or node flags for DORIS's processes, after the image's, to measure a variant. */
  nodeFlags: string[];
}

/**
 * Each run installs DORIS into its own namespace: a controller there syncs this run's
 * Pipelines only, never another run's or a test's left in `doris-system`.
 */
let controllerNamespace = 'doris-scale';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const roundAll = (values: Record<string, number>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, round(v)]));

function parseScaleArgs(argv: string[]): ScaleOptions {
  const options: ScaleOptions = { points: [1000, 2000, 5000, 10000], pipelines: 100, pipelineObjects: 100, deleteWaitS: 120, webhookSamples: 7, nodeFlags: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    // At the first '=' only: a value may hold one (`--node-flag=--max-semi-space-size=1`).
    const at = arg.indexOf('=');
    const [flag, inline] = at < 0 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
    const value = () => {
      if (inline === undefined) i += 1;
      const v = inline ?? argv[i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const count = (v: string, min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer of at least ${min}, not ${v}`);
      return n;
    };
    if (flag === '--points')
      options.points = value()
        .split(',')
        .filter(Boolean)
        .map((v) => count(v, 6 * waveCount));
    else if (flag === '--pipelines') options.pipelines = count(value(), 0);
    else if (flag === '--pipeline-objects') options.pipelineObjects = count(value(), 20);
    else if (flag === '--profile') options.profile = value();
    else if (flag === '--delete-wait') options.deleteWaitS = count(value(), 0);
    else if (flag === '--webhook-samples') options.webhookSamples = count(value(), 1);
    else if (flag === '--node-flag') options.nodeFlags.push(value());
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'usage: npm run bench -- scale [--points 1000,2000,5000,10000 (in this order; the first also gives the webhook latency)] [--pipelines 100 (0: none; run first)]\n' +
          '                             [--pipeline-objects 100] [--delete-wait SECONDS (120)] [--webhook-samples 7] [--profile DIR]\n' +
          "                             [--node-flag FLAG (repeatable: a variant of the image's node flags, for DORIS's processes only)]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return options;
}

/** The install's RBAC applied by the admin; DORIS's figures are taken with its ServiceAccount's token. */
async function shippedIdentity(env: TestEnv, api: KubeHttp): Promise<{ kubeconfig: string; user: string }> {
  const admin = await connectKube(env.KUBECONFIG);
  try {
    for (const object of installObjects({ namespace: controllerNamespace })) {
      if (!['Deployment', 'Service', 'CustomResourceDefinition'].includes(object.kind)) await admin.apply(object, { manager: 'doris-bench' });
    }
    // The Pipeline CRD is the test environment's, shared: installed on a fresh environment
    // (the Pipelines are created before any sync would install it), else left as it is.
    await ensurePipelineCrd(admin);
  } finally {
    admin.close();
  }
  return { kubeconfig: await serviceAccountKubeconfig(env, api, controllerNamespace), user: serviceAccountUser(controllerNamespace) };
}

/** Bytes of the Pipeline as the API server stores it (JSON), and of its status alone. */
async function pipelineBytes(api: KubeHttp, name: string): Promise<{ object: number; status: number }> {
  const res = await api.request<{ status?: unknown }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNamespace}/pipelines/${name}`);
  return { object: Buffer.byteLength(JSON.stringify(res.body)), status: Buffer.byteLength(JSON.stringify(res.body.status ?? {})) };
}

export interface ScalePoint {
  objects: number;
  cold_s: number;
  cold_apply_s: number;
  cold_wait_s: number;
  noop_s: number;
  noop_writes: number;
  noop_requests: Record<string, number>;
  noop_phases_s: Record<string, number>;
  /** CPU seconds during the no-op: DORIS's, the API server's and etcd's (on two cores their sum bounds the time). */
  noop_cpu_s: Record<string, number>;
  /** Unreadable Secrets the no-op left for a coming resync (`doris run --drift-check-period` 5 m at the 1 m interval: a fifth checked, at most 1,000). */
  noop_drift_checked_later: number;
  /** A second no-op that checks every unreadable Secret (`--drift-checks-per-sync 0`). */
  noop_all_s: number;
  noop_all_requests: Record<string, number>;
  noop_all_writes: number;
  noop_all_cpu_s: Record<string, number>;
  rss_peak_mib: number;
  rss_steady_mib: number;
  /** RSS once every module is loaded, before any work: the floor that code and node itself take. */
  rss_after_imports_mib: number;
  /** Steady RSS that is anonymous memory (V8's heap, malloc) and file-backed (pages of node's binary it touched). */
  rss_steady_anon_mib: number;
  rss_steady_file_mib: number;
  /** V8 heap in use at the steady point (after GC), MiB: what the process holds besides code. */
  heap_used_steady_mib: number;
  status_bytes: number;
  object_bytes: number;
  status_inventory_form: string;
  /** Early marking (src/runtime/marking.ts) when the sync process ended: on or off, its switches, the largest heap after a full collection. */
  marking: MarkingState | null;
}

function markingText(marking: MarkingState | null): string {
  if (!marking) return 'not used';
  return `${marking.on ? 'on' : 'off'} at the end (${marking.switches} switches; largest heap after a full collection ${marking.liveMaxMiB} MiB)`;
}

/** Least-squares slope of log(y) over log(x): y grows as x^slope. */
export function growthExponent(points: Array<{ x: number; y: number }>): number | null {
  const usable = points.filter((p) => p.x > 0 && p.y > 0);
  if (usable.length < 2) return null;
  const xs = usable.map((p) => Math.log(p.x));
  const ys = usable.map((p) => Math.log(p.y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i += 1) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/** A `doris run` controller as the shipped ServiceAccount, compiled, with the image's V8 flags. */
interface Controller {
  child: ChildProcess;
  port: number;
  secret: string;
  metrics(): Promise<string>;
  /** Kubernetes API requests made so far, by method (bench/scale-controller.ts), as of the last second. */
  requests(): Record<string, number>;
  rssMiB(): number;
  /** Peak RSS since it started (VmHWM), MiB. */
  rssPeakMiB(): number;
  stop(): Promise<void>;
}

async function startController(
  deps: ScaleDeps,
  kubeconfig: string,
  workDir: string,
  pollInterval: string,
  logFile: string,
  extra: string[] = [],
  nodeFlags: string[] = [],
): Promise<Controller> {
  const [port] = (await freePorts(1)) as [number];
  const secretDir = mkdtempSync(join(os.tmpdir(), 'doris-scale-hook-'));
  const secret = `scale-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(secretDir, 'github'), secret, { mode: 0o600 });
  const args = [
    ...dorisNodeFlags,
    ...nodeFlags,
    ...deps.runtime.argsFor('bench/scale-controller.ts'),
    '--kubeconfig',
    kubeconfig,
    '--namespace',
    controllerNamespace,
    '--work-dir',
    workDir,
    'run',
    '--listen',
    `127.0.0.1:${port}`,
    '--webhook-secret-file',
    join(secretDir, 'github'),
    '--poll-interval',
    pollInterval,
    '--lease-duration',
    '10s',
    '--lease-renew',
    '2s',
    ...extra,
  ];
  const countsFile = join(secretDir, 'requests.json');
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...dorisEnv(deps.env), DORIS_BENCH_REQUEST_COUNTS: countsFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const done = new Promise<void>((resolve) =>
    child.on('close', () => {
      writeFileSync(logFile, out);
      resolve();
    }),
  );
  let exited = false;
  void done.then(() => (exited = true));
  return {
    child,
    port,
    secret,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    requests: () => {
      try {
        return JSON.parse(readFileSync(countsFile, 'utf8')) as Record<string, number>;
      } catch {
        return {};
      }
    },
    rssMiB: () => statusMiB(child.pid ?? 0, 'VmRSS'),
    rssPeakMiB: () => statusMiB(child.pid ?? 0, 'VmHWM'),
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await done;
      rmSync(secretDir, { recursive: true, force: true });
    },
  };
}

/** Sum of a Prometheus counter's samples with `pipeline="<name>"` (all when name is undefined). */
function counter(metrics: string, name: string, pipeline?: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) && (pipeline === undefined || line.includes(`pipeline="${pipeline}"`)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

/** Signed GitHub push webhook -> the probe ConfigMap changed, `samples` times; seconds each. */
async function webhookLatency(
  deps: ScaleDeps,
  api: KubeHttp,
  controller: Controller,
  target: { repo: string; pipeline: string; objects: number; prefix: string; run: string },
  samples: number,
): Promise<number[]> {
  await until('controller leading and first sync done', 180_000, async () => {
    const text = await controller.metrics().catch(() => '');
    return /^doris_leader 1$/m.test(text) && counter(text, 'doris_syncs_total', target.pipeline) >= 1 ? true : undefined;
  });
  const out: number[] = [];
  for (let revision = 2; revision < 2 + samples; revision += 1) {
    const before = counter(await controller.metrics(), 'doris_syncs_total', target.pipeline);
    const workload = generateWorkload(target.objects, target.prefix, target.run, revision);
    const { probe } = workload;
    const commit = await pushFiles(deps.env, target.repo, { [probe.file]: workload.files[probe.file]! }, `scale: probe ${revision}`);
    const pushedAt = performance.now();
    await sendPushWebhook(controller, target.repo, commit);
    out.push(((await waitForRevision(api, probe.namespace, probe.name, revision)) - pushedAt) / 1000);
    // The push's sync, then the one the controller runs at once for the drift checks the push's
    // sync deferred (the mix has unreadable Secrets): the next sample starts on an idle controller.
    await until('the webhook sync and its drift check finished', 120_000, async () =>
      counter(await controller.metrics(), 'doris_syncs_total', target.pipeline) >= before + 2 ? true : undefined,
    );
  }
  return out;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function benchScale(argv: string[], deps: ScaleDeps): Promise<void> {
  const options = parseScaleArgs(argv);
  const { env, log } = deps;
  const api = await kube(env);
  const run = Date.now().toString(36);
  controllerNamespace = `doris-scale-${run}`;
  const identity = await shippedIdentity(env, api);
  const logDir = join(env.AUDIT_LOG, '..');
  log(`scale run ${run}: points ${options.points.join(', ')}; ${options.pipelines} Pipelines of ${options.pipelineObjects}; DORIS runs as ${identity.user}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  const points: ScalePoint[] = [];
  const errors: Record<string, string> = {};
  let small:
    | {
        rss_peak_mib: number;
        noop_s: number;
        webhook_s: number | null;
        webhook_samples_s: number[];
        objects: number;
        /** Peak RSS of the `doris run` that served the webhooks (the CLI, HTTP server, metrics and logger loaded; its first sync found all 1,000 objects in place). */
        controller_rss_peak_mib: number | null;
      }
    | undefined;
  let pipelines: Record<string, unknown> | undefined;
  // Results are written after every phase: a run stopped half-way keeps what it measured.
  const file = join(deps.resultsDir, 'scale.json');
  const save = () => {
    const sorted = [...points].sort((a, b) => a.objects - b.objects);
    const exponent = (pick: (p: ScalePoint) => number) => {
      const e = growthExponent(sorted.map((p) => ({ x: p.objects, y: pick(p) })));
      return e === null ? null : round(e, 2);
    };
    const results = {
      machine: deps.machine,
      date: new Date().toISOString(),
      load_average: os.loadavg().map((l) => round(l, 1)),
      identity: identity.user,
      waves: waveCount,
      points: sorted,
      growth_exponent: {
        cold_s: exponent((p) => p.cold_s),
        noop_s: exponent((p) => p.noop_s),
        noop_all_s: exponent((p) => p.noop_all_s),
        rss_peak_mib: exponent((p) => p.rss_peak_mib),
      },
      small: small ?? null,
      pipelines: pipelines ?? null,
      errors,
      inventory_limit: inventoryLimitNote,
    };
    mkdirSync(deps.resultsDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    return results;
  };
  // Stopped by a signal: what was created is deleted (without waiting), then the process ends.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: deleting what this run created`);
    void Promise.allSettled(cleanups.map((c) => Promise.race([c(), sleep(20_000)])))
      .then(() => removeInstall(api, controllerNamespace, identity.kubeconfig))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  /** Deletes a phase's namespaces, waiting a bounded time (the next phase may overlap the rest of the deletion). */
  const retire = async (what: string, cleanup: () => Promise<unknown>) => {
    const started = performance.now();
    const done = await Promise.race([cleanup().then(() => true), sleep(options.deleteWaitS * 1000).then(() => false)]);
    log(`${what}: ${done ? `deleted in ${((performance.now() - started) / 1000).toFixed(1)} s` : `still deleting after ${options.deleteWaitS} s; going on`}`);
  };
  try {
    if (options.pipelines > 0) {
      try {
        pipelines = await manyPipelines(deps, api, identity, options, run, cleanups, retire);
      } catch (error) {
        errors.pipelines = error instanceof Error ? error.message : String(error);
        log(`pipelines FAILED: ${errors.pipelines}`);
      }
      save();
    }
    for (const [index, objects] of options.points.entries()) {
      const prefix = `bench-${run}-s${objects}`;
      const workload = generateWorkload(objects, prefix, run);
      const { url } = await createRepo(env, 'bench-scale', workload.files, `scale: ${objects} objects`);
      const workDir = mkdtempSync(join(os.tmpdir(), 'doris-scale-work-'));
      const namespaces = workload.namespaces;
      const cleanup = async () => {
        await deletePipeline(api, controllerNamespace, prefix);
        rmSync(workDir, { recursive: true, force: true });
        await deleteNamespaces(api, namespaces, 30 * 60_000);
      };
      cleanups.push(cleanup);
      const profileFlags =
        options.profile && index === 0
          ? ['--cpu-prof', '--cpu-prof-dir', options.profile, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.profile}`]
          : [];
      if (options.profile) mkdirSync(options.profile, { recursive: true });
      log(`point ${objects}: cold sync and no-op resync (Pipeline ${prefix}); load average ${os.loadavg()[0]!.toFixed(1)}`);
      try {
        const result = await runSyncChild(
          deps.env,
          deps.runtime,
          {
            kubeconfig: identity.kubeconfig,
            user: identity.user,
            auditLog: env.AUDIT_LOG,
            repo: url,
            pipeline: prefix,
            namespace: controllerNamespace,
            workDir,
            serverPids: Object.fromEntries(Object.entries(daemonPids()).filter(([name]) => name === 'kube-apiserver' || name === 'etcd')),
          },
          [...options.nodeFlags, ...profileFlags],
        );
        if (!result.ok) throw new Error(`DORIS sync of ${objects} objects failed: ${result.error}`);
        const bytes = await pipelineBytes(api, prefix);
        const status = (
          await api.request<{ status?: { inventoryArchive?: unknown } }>(
            'GET',
            `/apis/doris.dev/v1alpha1/namespaces/${controllerNamespace}/pipelines/${prefix}`,
          )
        ).body.status;
        const point: ScalePoint = {
          objects,
          cold_s: round(result.sync_s),
          cold_apply_s: round(result.apply_s),
          cold_wait_s: round(result.wait_s),
          noop_s: round(result.noop?.seconds ?? Number.NaN),
          noop_writes: result.noop?.audit_writes ?? -1,
          noop_requests: result.noop?.requests ?? {},
          noop_drift_checked_later: result.noop?.drift_checked_later ?? 0,
          noop_all_s: round(result.noop_all?.seconds ?? Number.NaN),
          noop_all_requests: result.noop_all?.requests ?? {},
          noop_all_writes: result.noop_all?.audit_writes ?? -1,
          noop_phases_s: Object.fromEntries(Object.entries(result.noop?.phases_s ?? {}).map(([k, v]) => [k, round(v)])),
          noop_cpu_s: roundAll(result.noop?.cpu_s ?? {}),
          noop_all_cpu_s: roundAll(result.noop_all?.cpu_s ?? {}),
          rss_peak_mib: result.rss_mib.peak,
          rss_steady_mib: result.rss_mib.steady,
          rss_after_imports_mib: result.rss_mib.after_imports,
          rss_steady_anon_mib: result.rss_mib.steady_anon,
          rss_steady_file_mib: result.rss_mib.steady_file,
          heap_used_steady_mib: result.steady_memory_mib.heap_used,
          status_bytes: bytes.status,
          object_bytes: bytes.object,
          status_inventory_form: status?.inventoryArchive ? 'gzip+base64 archive' : 'plain list',
          marking: result.marking,
        };
        points.push(point);
        log(
          `point ${objects}: cold ${point.cold_s} s (apply ${point.cold_apply_s}, wait ${point.cold_wait_s}); no-op ${point.noop_s} s, ${point.noop_writes} writes ` +
            `(${JSON.stringify(point.noop_requests)}; phases ${JSON.stringify(point.noop_phases_s)}; CPU s ${JSON.stringify(point.noop_cpu_s)}; ${point.noop_drift_checked_later} Secrets left for later); every Secret checked ${point.noop_all_s} s, ${point.noop_all_writes} writes, CPU s ${JSON.stringify(point.noop_all_cpu_s)}; RSS peak ${point.rss_peak_mib} MiB, steady ${point.rss_steady_mib} MiB; status ${point.status_bytes} bytes; early marking ${markingText(point.marking)}`,
        );
        if (index === 0) {
          // The small figures: this point's objects are live; the webhook latency of `doris run`.
          const controller = await startController(
            deps,
            identity.kubeconfig,
            workDir,
            '10m',
            join(logDir, `bench-${run}-scale-webhook.log`),
            [],
            [...options.nodeFlags, ...(options.profile ? ['--cpu-prof', '--cpu-prof-dir', join(options.profile, 'controller')] : [])],
          );
          let samples: number[] = [];
          let controllerPeak: number | null = null;
          try {
            samples = await webhookLatency(deps, api, controller, { repo: url, pipeline: prefix, objects, prefix, run }, options.webhookSamples);
            controllerPeak = round(controller.rssPeakMiB(), 1);
          } catch (error) {
            errors.webhook = error instanceof Error ? error.message : String(error);
            log(`webhook latency FAILED: ${errors.webhook}`);
          } finally {
            await controller.stop();
          }
          small = {
            objects,
            rss_peak_mib: point.rss_peak_mib,
            noop_s: point.noop_s,
            webhook_s: samples.length ? round(median(samples)) : null,
            webhook_samples_s: samples.map((s) => round(s)),
            controller_rss_peak_mib: controllerPeak,
          };
          log(`small (${objects}): webhook to applied ${samples.map((s) => s.toFixed(3)).join(', ')} s; doris run peaked at ${controllerPeak} MiB`);
        }
      } catch (error) {
        errors[`point_${objects}`] = error instanceof Error ? error.message : String(error);
        log(`point ${objects} FAILED: ${errors[`point_${objects}`]}`);
      }
      save();
      cleanups.splice(cleanups.indexOf(cleanup), 1);
      await retire(`point ${objects}: namespaces`, cleanup);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    await removeInstall(api, controllerNamespace, identity.kubeconfig).catch((error: unknown) => log(`cleanup: ${String(error)}`));
    api.close();
  }
  const results = save();
  process.stdout.write(`${JSON.stringify({ points: results.points, growth_exponent: results.growth_exponent, small, pipelines, errors }, null, 2)}\n`);
  log(`wrote ${file}`);
}

/** The inventory's limit, from test/unit/inventory/scale_inventory_test.ts (pure computation on the real encoding). */
const inventoryLimitNote = {
  form: 'a plain list up to 128 KiB of JSON, then one gzip+base64 archive (src/inventory/archive.ts)',
  archived_bytes: { objects_10000: 229_188, objects_20000: 454_292, objects_40000: 901_220 },
  bytes_per_object: 22.5,
  limit_objects: 66_900,
  limit:
    "etcd's 1.5 MiB per object, less about 64 KiB for the rest of the status; the benchmark mix's 28% Secrets carry a random uid, resourceVersion and hash each, which do not compress",
  when_reached:
    "the API server refuses the status patch: a first sync fails before writing any object (its pendingInventory cannot be recorded), Ready=False with the server's message; a later sync's success write fails as StatusWriteFailed, Ready=False, the objects applied stay listed in pendingInventory for prune. The inventory and the pending entries share the one object: a commit that renames all of 40,000 objects needs both (about 1.8 MB) and is refused the same way, before any write",
  measured_by: 'test/unit/inventory/scale_inventory_test.ts; the API server refusing an oversized status: test/e2e/status_size_test.ts',
};

/** N Pipelines of `pipelineObjects` objects each in one `doris run` with 1 m intervals. */
async function manyPipelines(
  deps: ScaleDeps,
  api: KubeHttp,
  identity: { kubeconfig: string; user: string },
  options: ScaleOptions,
  run: string,
  cleanups: Array<() => Promise<unknown>>,
  retire: (what: string, cleanup: () => Promise<unknown>) => Promise<void>,
): Promise<Record<string, unknown>> {
  const { env, log } = deps;
  const count = options.pipelines;
  const names = Array.from({ length: count }, (_, i) => `bench-${run}-p${String(i).padStart(3, '0')}`);
  const repos: string[] = [];
  const workDir = mkdtempSync(join(os.tmpdir(), 'doris-scale-many-'));
  const cleanup = async () => {
    for (const name of names) await deletePipeline(api, controllerNamespace, name);
    rmSync(workDir, { recursive: true, force: true });
    await deleteNamespaces(api, names, 30 * 60_000);
  };
  cleanups.push(cleanup);
  log(`pipelines: creating ${count} repositories of ${options.pipelineObjects} objects`);
  const limit = pLimit(6);
  repos.push(
    ...(await Promise.all(
      names.map((name) =>
        limit(async () => (await createRepo(env, `bench-scale-${name}`, pipelineWorkload(name, options.pipelineObjects, run, 1).files, 'scale: many')).url),
      ),
    )),
  );
  const gitLog = join(env.AUDIT_LOG, '..', 'git-server.log');
  const controller = await startController(
    deps,
    identity.kubeconfig,
    workDir,
    '1m',
    join(env.AUDIT_LOG, '..', `bench-${run}-scale-many.log`),
    [],
    options.nodeFlags,
  );
  try {
    const started = performance.now();
    for (const [i, name] of names.entries()) {
      await api.request('PATCH', `/apis/doris.dev/v1alpha1/namespaces/${controllerNamespace}/pipelines/${name}`, {
        query: { fieldManager: 'doris-bench', force: true },
        contentType: 'application/apply-patch+yaml',
        body: JSON.stringify({
          apiVersion: 'doris.dev/v1alpha1',
          kind: 'Pipeline',
          metadata: { name, namespace: controllerNamespace },
          spec: { git: { url: repos[i], branch: 'main', path: 'deploy', interval: '1m' }, prune: { enabled: true } },
        }),
      });
    }
    let peak = 0;
    const readyS = await until(
      `all ${count} Pipelines Ready`,
      30 * 60_000,
      async () => {
        peak = Math.max(peak, controller.rssMiB());
        const res = await api.request<{ items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> }>(
          'GET',
          `/apis/doris.dev/v1alpha1/namespaces/${controllerNamespace}/pipelines`,
        );
        const ready = res.body.items.filter(
          (p) => names.includes(p.metadata.name) && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ).length;
        return ready === count ? (performance.now() - started) / 1000 : undefined;
      },
      1000,
    );
    log(`pipelines: all ${count} Ready after ${readyS.toFixed(1)} s (RSS peak so far ${peak.toFixed(1)} MiB)`);

    // Steady state: one whole minute of interval resyncs.
    const auditAt = auditMark(env.AUDIT_LOG);
    const gitAt = auditMark(gitLog);
    const syncsBefore = counter(await controller.metrics(), 'doris_syncs_total');
    const requestsBefore = controller.requests();
    const rss: number[] = [];
    const windowStart = performance.now();
    while (performance.now() - windowStart < 60_000) {
      rss.push(controller.rssMiB());
      await sleep(1000);
    }
    const minutes = (performance.now() - windowStart) / 60_000;
    await sleep(1100);
    const requestsAfter = controller.requests();
    const byMethod = Object.fromEntries(Object.entries(requestsAfter).map(([m, n]) => [m, n - (requestsBefore[m] ?? 0)]));
    const clientRequests = Object.values(byMethod).reduce((a, b) => a + b, 0);
    const events = readAuditSince(env.AUDIT_LOG, auditAt).filter((e) => e.user.username === identity.user);
    const writes = writesBy(events, identity.user).length;
    const gitRequests = readFileSync(gitLog)
      .subarray(gitAt)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.includes(`bench-scale-bench-${run}-p`)).length;
    const syncs = counter(await controller.metrics(), 'doris_syncs_total') - syncsBefore;
    const rssSteady = median(rss);
    log(
      `pipelines: steady minute: ${clientRequests} API requests (${JSON.stringify(byMethod)}; audit log: ${events.length} writes and dry-runs, ${writes} real writes), ${gitRequests} git requests, ${syncs} syncs; RSS median ${rssSteady.toFixed(1)} MiB`,
    );

    // A change to one Pipeline, found by polling while the others resync.
    const probe = names[Math.floor(count / 2)]!;
    const probeRepo = repos[Math.floor(count / 2)]!;
    const workload = pipelineWorkload(probe, options.pipelineObjects, run, 2);
    await pushFiles(env, probeRepo, { [workload.probe.file]: workload.files[workload.probe.file]! }, 'scale: change');
    const pushedAt = performance.now();
    const seen = await waitForRevision(api, workload.probe.namespace, workload.probe.name, 2, 5 * 60_000);
    const changeS = (seen - pushedAt) / 1000;
    log(`pipelines: a change to ${probe} applied ${changeS.toFixed(1)} s after the push (interval 1 m, jitter ±10%)`);
    return {
      count,
      objects_each: options.pipelineObjects,
      all_ready_s: round(readyS, 1),
      rss_peak_mib: round(Math.max(peak, ...rss), 1),
      rss_steady_mib: round(rssSteady, 1),
      change_latency_s: round(changeS, 2),
      change_within_interval_plus_2s: changeS <= 60 * 1.1 + 2,
      requests_per_min: round(clientRequests / minutes, 0),
      requests_per_min_by_method: Object.fromEntries(Object.entries(byMethod).map(([m, n]) => [m, round(n / minutes, 0)])),
      audited_per_min: round(events.length / minutes, 0),
      writes_per_min: round(writes / minutes, 0),
      git_requests_per_min: round(gitRequests / minutes, 0),
      syncs_per_min: round(syncs / minutes, 0),
    };
  } finally {
    await controller.stop();
    cleanups.splice(cleanups.indexOf(cleanup), 1);
    await retire('pipelines: namespaces', cleanup);
  }
}
