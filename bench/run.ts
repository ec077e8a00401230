/**
 * `npm run bench` (issue 6): DORIS against `kubectl apply --server-side` on the local test
 * environment, which it brings up when it is not up (and then takes down again at the end).
 *
 *   1. a repository of N objects in 10 waves (bench/workload.ts), pushed to the git server;
 *   2. cold sync: DORIS (bench/sync-child.ts, one process per sync) and the kubectl
 *      baseline (bench/kubectl.ts) alternate, each on a fresh set of namespaces that is
 *      deleted before the next repetition; medians and the ratio kubectl/DORIS;
 *   3. the limit: concurrent apply PATCHes of the same objects (bench/limit.ts), and
 *      DORIS's apply phase as a fraction of it;
 *   4. no-op resync: time, writes in the API server's audit log, client requests;
 *   5. change latency: one file pushed -> the change visible in the cluster (bench/latency.ts);
 *   6. peak and steady RSS of the DORIS process.
 *
 * Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                              # 1,000 objects, 3 repetitions
 *   npm run bench -- --objects 100 --reps 1    # a quick run
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeHttp } from '../src/kube/http.js';
import { down, up } from '../test/env/lifecycle.js';
import { envFile } from '../test/env/paths.js';
import { createRepo, kube, loadTestEnv, type TestEnv } from '../test/env/testenv.js';
import { deleteNamespaces, deletePipeline, leftoverNamespaces, leftoverPipelines } from './cluster.js';
import { kubectlBaseline, type KubectlResult } from './kubectl.js';
import { shippedRuntime } from './build.js';
import { controllerPollLatency, controllerWebhookLatency, hasController, syncOnceLatency, type ProbeTarget } from './latency.js';
import { applyLimit, type LimitResult } from './limit.js';
import type { SyncChildResult } from './sync-child.js';
import { runSyncChild } from './sync-child-run.js';
import { generateWorkload, waveCount } from './workload.js';
import { installObjects } from '../src/install/manifests.js';
import { connectKube } from '../src/kube/client.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../test/env/identity.js';

/**
 * DORIS's figures are taken under the identity it really runs as: the shipped ServiceAccount
 * and its least-privilege RBAC (which may write Secrets in the benchmark's namespaces but not
 * read them), not the admin kubeconfig.
 */
async function shippedIdentity(env: TestEnv, api: KubeHttp): Promise<{ kubeconfig: string; user: string }> {
  const admin = await connectKube(env.KUBECONFIG);
  try {
    for (const object of installObjects({ namespace: controllerNamespace })) {
      if (object.kind !== 'Deployment' && object.kind !== 'Service') await admin.apply(object, { manager: 'doris-bench' });
    }
  } finally {
    admin.close();
  }
  return { kubeconfig: await serviceAccountKubeconfig(env, api, controllerNamespace), user: serviceAccountUser(controllerNamespace) };
}

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsFile = join(benchDir, 'results', 'latest.json');
const controllerNamespace = 'doris-system';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

interface Options {
  objects: number;
  reps: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { objects: 1000, reps: 3 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = () => {
      if (inline === undefined) i += 1;
      const v = inline ?? argv[i];
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, not ${v}`);
      return n;
    };
    if (flag === '--objects') options.objects = value();
    else if (flag === '--reps') options.reps = value();
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'usage: npm run bench -- [--objects N (default 1000)] [--reps N (default 3)]\n       npm run bench -- hub [--agents N (default 10000)]\n       npm run bench -- scale [--points 1000,2000,5000,10000] [--pipelines 100]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (options.objects < 6 * waveCount) throw new Error(`--objects must be at least ${6 * waveCount} (6 per wave)`);
  return options;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() || os.arch();
  return `${model}, ${cpus.length} cores, ${Math.round(os.totalmem() / 1024 ** 3)} GiB memory, node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The environment: reuse a running one, else bring one up (and remember to take it down). */
async function environment(): Promise<{ env: TestEnv; started: boolean }> {
  if (existsSync(envFile)) {
    const env = loadTestEnv();
    const api = await kube(env).catch(() => undefined);
    const ready = await api
      ?.request('GET', '/readyz', { timeoutMs: 5000 })
      .then(() => true)
      .catch(() => false);
    api?.close();
    if (ready) {
      log(`using the running test environment (${envFile})`);
      return { env, started: false };
    }
  }
  log('bringing the test environment up');
  return { env: await up(), started: true };
}

/** What has to be deleted if the run stops half-way. */
const live = { namespaces: new Set<string>(), pipelines: new Set<string>(), dirs: new Set<string>() };

async function cleanUp(api: KubeHttp, namespaces: string[], pipeline?: string, dir?: string): Promise<number> {
  if (pipeline) {
    await deletePipeline(api, controllerNamespace, pipeline);
    live.pipelines.delete(pipeline);
  }
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
    live.dirs.delete(dir);
  }
  const seconds = await deleteNamespaces(api, namespaces);
  for (const ns of namespaces) live.namespaces.delete(ns);
  return seconds;
}

interface DorisRep extends SyncChildResult {
  repo: string;
  pipeline: string;
  delete_s?: number;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'scale') {
    const { env, started } = await environment();
    const runtime = await shippedRuntime(log);
    try {
      const { benchScale } = await import('./scale.js');
      await benchScale(process.argv.slice(3), { env, runtime, log, resultsDir: join(benchDir, 'results'), machine: machine() });
    } finally {
      runtime.dispose();
      if (started) await down();
    }
    return;
  }
  if (process.argv[2] === 'hub') {
    const { env, started } = await environment();
    const runtime = await shippedRuntime(log);
    try {
      const { benchHub } = await import('./hub.js');
      await benchHub(process.argv.slice(3), { env, runtime, log, resultsDir: join(benchDir, 'results'), machine: machine() });
    } finally {
      runtime.dispose();
      if (started) await down();
    }
    return;
  }
  const options = parseArgs(process.argv.slice(2));
  const { env, started } = await environment();
  const api = await kube(env);
  const run = Date.now().toString(36);
  const runtime = await shippedRuntime(log);
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void Promise.allSettled([
      ...[...live.namespaces].map((ns) => api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404, 409] })),
      ...[...live.pipelines].map((p) => deletePipeline(api, controllerNamespace, p)),
    ])
      .then(() => {
        for (const dir of live.dirs) rmSync(dir, { recursive: true, force: true });
        runtime.dispose();
        return started ? down() : undefined;
      })
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const leftovers = await leftoverNamespaces(api);
    const oldPipelines = await leftoverPipelines(api, controllerNamespace);
    if (leftovers.length + oldPipelines.length > 0) {
      log(`deleting ${leftovers.length} namespaces and ${oldPipelines.length} Pipelines left by an earlier run`);
      for (const p of oldPipelines) await deletePipeline(api, controllerNamespace, p);
      await deleteNamespaces(api, leftovers);
    }

    log(`run ${run}: ${options.objects} objects in ${waveCount} waves, ${options.reps} repetitions; machine: ${machine()}`);
    const identity = await shippedIdentity(env, api);
    log(`DORIS runs as ${identity.user}`);
    const dorisReps: DorisRep[] = [];
    const kubectlReps: Array<KubectlResult & { delete_s: number }> = [];
    let probeTarget: (ProbeTarget & { namespaces: string[] }) | undefined;

    for (let rep = 1; rep <= options.reps; rep += 1) {
      // kubectl first, so that the last DORIS repetition's objects can stay for the change-latency test.
      {
        const workload = generateWorkload(options.objects, `bench-${run}-k${rep}`, run);
        for (const ns of workload.namespaces) live.namespaces.add(ns);
        log(`rep ${rep}/${options.reps}: kubectl apply --server-side, wave by wave`);
        const result = await kubectlBaseline(env, workload, (line) => log(`  kubectl: ${line}`));
        const deleteS = await cleanUp(api, workload.namespaces);
        kubectlReps.push({ ...result, delete_s: deleteS });
        log(
          `rep ${rep}/${options.reps}: kubectl ${result.seconds.toFixed(2)} s (apply ${result.apply_s.toFixed(2)} s, wait ${result.wait_s.toFixed(2)} s, ${result.invocations} kubectl runs); namespaces deleted in ${deleteS.toFixed(1)} s`,
        );
      }
      {
        const prefix = `bench-${run}-d${rep}`;
        const workload = generateWorkload(options.objects, prefix, run);
        const { url } = await createRepo(env, 'bench', workload.files, `bench: ${options.objects} objects`);
        const pipeline = prefix;
        const workDir = mkdtempSync(join(os.tmpdir(), 'doris-bench-work-'));
        for (const ns of workload.namespaces) live.namespaces.add(ns);
        live.pipelines.add(pipeline);
        live.dirs.add(workDir);
        log(`rep ${rep}/${options.reps}: DORIS cold sync (Pipeline ${pipeline})`);
        const result = await runSyncChild(env, runtime, {
          kubeconfig: identity.kubeconfig,
          user: identity.user,
          auditLog: env.AUDIT_LOG,
          repo: url,
          pipeline,
          namespace: controllerNamespace,
          workDir,
        });
        if (!result.ok) throw new Error(`DORIS sync failed: ${result.error}`);
        const entry: DorisRep = { ...result, repo: url, pipeline };
        log(
          `rep ${rep}/${options.reps}: DORIS ${result.sync_s.toFixed(2)} s (apply ${result.apply_s.toFixed(2)} s, wait ${result.wait_s.toFixed(2)} s, process ${result.process_s.toFixed(2)} s); ` +
            `RSS peak ${result.rss_mib.peak} MiB, steady ${result.rss_mib.steady} MiB; no-op ${result.noop?.seconds.toFixed(3)} s, ${result.noop?.audit_writes} writes` +
            (result.noop
              ? ` (resolve ${result.noop.phases_s.resolve.toFixed(2)}, prepare ${result.noop.phases_s.prepare.toFixed(2)}, stages ${result.noop.phases_s.stages.toFixed(2)}, finish ${result.noop.phases_s.finish.toFixed(2)} s)`
              : ''),
        );
        if (rep === options.reps) {
          probeTarget = { repo: url, pipeline, controllerNamespace, workDir, objects: options.objects, prefix, run, namespaces: workload.namespaces };
        } else {
          entry.delete_s = await cleanUp(api, workload.namespaces, pipeline, workDir);
        }
        dorisReps.push(entry);
      }
    }

    // Change latency, on the last DORIS repetition's Pipeline (its objects are live).
    const samples = Math.max(3, options.reps);
    let revision = 1;
    const revisions = () => Array.from({ length: samples }, () => (revision += 1));
    const latency: { poll: number[]; webhook: number[]; sync_once: number[] } = { poll: [], webhook: [], sync_once: [] };
    const target = probeTarget!;
    const controller = hasController();
    const latencyErrors: Record<string, string> = {};
    if (controller) {
      const logDir = dirname(env.AUDIT_LOG);
      // A failing mode is reported (null, with its error) without losing the rest of the run.
      const measure = async (mode: 'poll' | 'webhook', what: string, fn: () => Promise<number[]>) => {
        try {
          latency[mode] = await fn();
          log(`change latency, ${what}: ${latency[mode].map((s) => s.toFixed(2)).join(', ')} s`);
        } catch (error) {
          latencyErrors[mode] = error instanceof Error ? error.message : String(error);
          log(`change latency, ${what}: FAILED: ${latencyErrors[mode]}`);
        }
      };
      await measure('poll', 'doris run polling every 1 s', () =>
        controllerPollLatency(env, api, runtime, target, revisions(), join(logDir, `bench-${run}-doris-run-poll.log`)),
      );
      await measure('webhook', 'doris run + signed GitHub push webhook', () =>
        controllerWebhookLatency(env, api, runtime, target, revisions(), join(logDir, `bench-${run}-doris-run-webhook.log`)),
      );
    } else {
      log('src/cli/run.ts does not exist: no controller to measure; poll latency is `doris sync --once` right after the push, webhook n/a');
    }
    for (const r of revisions()) latency.sync_once.push(await syncOnceLatency(env, api, runtime, target, r));
    log(`change latency, doris sync --once right after the push: ${latency.sync_once.map((s) => s.toFixed(2)).join(', ')} s`);
    await cleanUp(api, target.namespaces, target.pipeline, target.workDir);
    const pollMode = controller ? 'doris run --poll-interval 1s' : 'doris sync --once started right after the push (no controller)';
    const pollSamples = controller ? latency.poll : latency.sync_once;

    // The limit, on fresh namespaces each time.
    const limitReps: LimitResult[] = [];
    for (let rep = 1; rep <= options.reps; rep += 1) {
      const workload = generateWorkload(options.objects, `bench-${run}-l${rep}`, run);
      for (const ns of workload.namespaces) live.namespaces.add(ns);
      const limitApi = await kube(env);
      const result = await applyLimit(limitApi, workload.objects, 32);
      limitApi.close();
      await cleanUp(api, workload.namespaces);
      limitReps.push(result);
      log(`limit ${rep}/${options.reps}: ${result.objects} objects in ${result.seconds.toFixed(2)} s = ${result.objects_per_s.toFixed(0)} objects/s`);
    }

    // Figures.
    const doris = median(dorisReps.map((r) => r.sync_s));
    const kubectl = median(kubectlReps.map((r) => r.seconds));
    // The limit is a ceiling: the best repetition (on a busy machine the others are the machine's noise).
    const limitRate = Math.max(...limitReps.map((r) => r.objects_per_s));
    const dorisApplyRate = median(dorisReps.map((r) => options.objects / r.apply_s));
    const noopSeconds = median(dorisReps.map((r) => r.noop!.seconds));
    const noopWrites = Math.max(...dorisReps.map((r) => r.noop!.audit_writes));
    const rssPeak = Math.max(...dorisReps.map((r) => r.rss_mib.peak));
    const rssSteady = median(dorisReps.map((r) => r.rss_mib.steady));
    const results = {
      machine: machine(),
      date: new Date().toISOString(),
      objects: options.objects,
      waves: waveCount,
      reps: options.reps,
      runtime:
        runtime.kind === 'bundled' ? 'DORIS bundled with esbuild as it ships (npm run build), run by plain node' : 'DORIS run through tsx (bundling failed)',
      cold: {
        doris: round(doris),
        kubectl: round(kubectl),
        ratio: round(kubectl / doris, 2),
        doris_process: round(median(dorisReps.map((r) => r.process_s))),
        doris_apply: round(median(dorisReps.map((r) => r.apply_s))),
        doris_wait: round(median(dorisReps.map((r) => r.wait_s))),
        kubectl_apply: round(median(kubectlReps.map((r) => r.apply_s))),
        kubectl_wait: round(median(kubectlReps.map((r) => r.wait_s))),
        /** The apply phases alone (health waits excluded): kubectl / DORIS. */
        apply_ratio: round(median(kubectlReps.map((r) => r.apply_s)) / median(dorisReps.map((r) => r.apply_s)), 2),
      },
      limit: {
        objects_per_s: round(limitRate, 1),
        objects_per_s_median: round(median(limitReps.map((r) => r.objects_per_s)), 1),
        doris_apply_objects_per_s: round(dorisApplyRate, 1),
        doris_apply_fraction: round(dorisApplyRate / limitRate, 3),
        concurrency: 32,
      },
      noop: {
        seconds: round(noopSeconds),
        writes: noopWrites,
        client_requests: dorisReps.at(-1)!.noop!.requests,
        phases_s: dorisReps.at(-1)!.noop!.phases_s,
      },
      change_latency: {
        poll: pollSamples.length > 0 ? round(median(pollSamples)) : null,
        poll_mode: pollMode,
        webhook: latency.webhook.length > 0 ? round(median(latency.webhook)) : null,
        sync_once: round(median(latency.sync_once)),
        errors: latencyErrors,
      },
      rss_mib: { peak: rssPeak, steady: rssSteady },
      targets: {
        cold_ratio_at_least_10: kubectl / doris >= 10,
        apply_fraction_at_least_half: dorisApplyRate / limitRate >= 0.5,
        noop_under_1s_zero_writes: noopSeconds < 1 && noopWrites === 0,
        peak_rss_under_100_mib: rssPeak < 100,
      },
      raw: {
        doris: dorisReps,
        kubectl: kubectlReps,
        limit: limitReps,
        change_latency: latency,
      },
    };
    mkdirSync(dirname(resultsFile), { recursive: true });
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(table(results));
    log(`wrote ${resultsFile}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // After a failure: leave nothing behind.
    if (live.namespaces.size + live.pipelines.size + live.dirs.size > 0) {
      log(`cleaning up ${live.namespaces.size} namespaces and ${live.pipelines.size} Pipelines`);
      for (const p of live.pipelines) await deletePipeline(api, controllerNamespace, p).catch(() => undefined);
      for (const dir of live.dirs) rmSync(dir, { recursive: true, force: true });
      await deleteNamespaces(api, [...live.namespaces]).catch((error: unknown) => log(`cleanup: ${String(error)}`));
    }
    api.close();
    runtime.dispose();
    if (started) {
      log('taking the test environment down (this run brought it up)');
      await down();
    }
  }
}

interface TableInput {
  machine: string;
  objects: number;
  reps: number;
  cold: {
    doris: number;
    kubectl: number;
    ratio: number;
    doris_apply: number;
    doris_wait: number;
    kubectl_apply: number;
    kubectl_wait: number;
    apply_ratio: number;
  };
  limit: { objects_per_s: number; doris_apply_objects_per_s: number; doris_apply_fraction: number };
  noop: { seconds: number; writes: number; client_requests: Record<string, number> };
  change_latency: { poll: number | null; poll_mode: string; webhook: number | null; sync_once: number; errors: Record<string, string> };
  rss_mib: { peak: number; steady: number };
}

function table(r: TableInput): string {
  const ok = (met: boolean) => (met ? 'met' : 'MISSED');
  const rows: Array<[string, string, string, string]> = [
    [
      'cold sync, s (median)',
      `DORIS ${r.cold.doris.toFixed(2)}  kubectl ${r.cold.kubectl.toFixed(2)}`,
      `ratio ${r.cold.ratio.toFixed(1)}x`,
      `>= 10x: ${ok(r.cold.ratio >= 10)}`,
    ],
    [
      '  apply / wait, s',
      `DORIS ${r.cold.doris_apply.toFixed(2)} / ${r.cold.doris_wait.toFixed(2)}  kubectl ${r.cold.kubectl_apply.toFixed(2)} / ${r.cold.kubectl_wait.toFixed(2)}`,
      `apply ratio ${r.cold.apply_ratio.toFixed(1)}x`,
      '',
    ],
    [
      'apply throughput, obj/s',
      `DORIS ${r.limit.doris_apply_objects_per_s.toFixed(0)}  limit (best) ${r.limit.objects_per_s.toFixed(0)}`,
      `fraction ${r.limit.doris_apply_fraction.toFixed(2)}`,
      `>= 0.5: ${ok(r.limit.doris_apply_fraction >= 0.5)}`,
    ],
    [
      'no-op resync',
      `${r.noop.seconds.toFixed(3)} s, ${r.noop.writes} writes`,
      Object.entries(r.noop.client_requests)
        .map(([m, n]) => `${m} ${n}`)
        .join(' '),
      `< 1 s, 0 writes: ${ok(r.noop.seconds < 1 && r.noop.writes === 0)}`,
    ],
    [
      'change latency, s',
      `poll ${r.change_latency.poll === null ? 'FAILED' : r.change_latency.poll.toFixed(2)}  webhook ${r.change_latency.webhook === null ? (r.change_latency.errors.webhook ? 'FAILED' : 'n/a') : r.change_latency.webhook.toFixed(2)}`,
      `sync --once ${r.change_latency.sync_once.toFixed(2)}`,
      '',
    ],
    ['RSS, MiB', `peak ${r.rss_mib.peak.toFixed(1)}  steady ${r.rss_mib.steady.toFixed(1)}`, '', `peak < 100: ${ok(r.rss_mib.peak < 100)}`],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell))
      .join('   ')
      .trimEnd(),
  );
  return [
    '',
    `DORIS benchmark: ${r.objects} objects in ${waveCount} waves, ${r.reps} repetition(s), medians`,
    `machine: ${r.machine}`,
    '',
    ...lines,
    `(poll: ${r.change_latency.poll_mode})`,
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
