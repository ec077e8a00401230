/**
 * One DORIS cold sync, measured from inside its own process (run by bench/run.ts as
 * `node --expose-gc --import tsx bench/sync-child.ts '<json config>'`), so that the RSS
 * figures are DORIS's alone.
 *
 * It does what `doris sync --once` does for an inline Pipeline (install the CRD if missing,
 * create the Pipeline, reconcile it), timing the whole sync and its apply phase (the sum of
 * the stage apply times, health waits excluded) and sampling RSS every 50 ms. Then it
 * collects garbage and idles 2 s for a steady RSS, and runs a no-op resync in the same
 * process, counting its requests by method (client side) and the writes the API server
 * recorded in its audit log. The last stdout line is the JSON result.
 */
import { parsePipelineSpec, syncIntervalMs, type Pipeline } from '../src/api/pipeline.js';
import { Reasons } from '../src/api/reasons.js';
import { connectKube } from '../src/kube/client.js';
import type { ProgressEvent } from '../src/reconcile/progress.js';
import { reconcilePipeline, type SyncContext, type SyncOutcome } from '../src/reconcile/sync.js';
import { gitCredentialsFromFlags } from '../src/source/credentials.js';
import { applyPipeline, ensurePipelineCrd, getPipeline } from '../src/status/store.js';
import { auditMark, readAuditSince, writesBy } from '../test/env/audit.js';
import { RenderCache } from '../src/render/cache.js';
import { DriftRotation, defaultDriftCheckPeriodMs, defaultDriftChecksPerSync } from '../src/apply/drift-rotation.js';
import { adaptMarking, type MarkingState } from '../src/runtime/marking.js';
import { processCpuS, statusBytes } from './proc.js';

// As src/cli/main.ts does for every `doris` command.
const marking = adaptMarking();

export interface SyncChildConfig {
  kubeconfig: string;
  /** The user the kubeconfig authenticates as, as the audit log names it. */
  user: string;
  auditLog: string;
  repo: string;
  pipeline: string;
  /** Controller namespace, where the Pipeline lives. */
  namespace: string;
  workDir: string;
  /** Run the no-op resync after the cold sync (default true). */
  noop?: boolean;
  /** `doris run --drift-checks-per-sync` (default the controller's; the period is the controller's default). */
  driftChecksPerSync?: number;
  /** PIDs of the API server and etcd, by name: the CPU they spend during each no-op is reported beside DORIS's own. */
  serverPids?: Record<string, number>;
}

export interface SyncChildResult {
  ok: boolean;
  error?: string;
  objects: number;
  /** From the start of the work (connect) to the end of the reconcile, in seconds. */
  sync_s: number;
  /** Process uptime at the end of the sync: adds node and tsx start-up, as `doris sync --once` pays. */
  process_s: number;
  /** Sum of the stage apply times (stage -> applied), seconds. */
  apply_s: number;
  /** Sum of the health waits, seconds. */
  wait_s: number;
  stages: Array<{ label: string; objects: number; ms: number }>;
  counts: Record<string, number>;
  /** Requests of the cold sync by method. */
  requests: Record<string, number>;
  rss_mib: {
    peak_sampled: number;
    vmhwm: number;
    peak: number;
    steady: number;
    samples: number;
    after_imports: number;
    steady_anon: number;
    steady_file: number;
  };
  /** V8 and buffer memory at the steady point, MiB: what the process holds besides code. */
  steady_memory_mib: { heap_total: number; heap_used: number; external: number; array_buffers: number };
  noop?: {
    seconds: number;
    result: string;
    message: string;
    wrote: boolean;
    /** Unreadable Secrets the rotation left for a coming resync. */
    drift_checked_later: number;
    requests: Record<string, number>;
    client_writes: number;
    audit_writes: number;
    audit_write_samples: string[];
    /** Where the no-op's time goes, seconds: resolve the branch (ls-remote), fetch + checkout + render + stamp + list live objects, walk the stages, finish. */
    phases_s: { resolve: number; prepare: number; stages: number; finish: number };
    /**
     * CPU seconds spent during the no-op by DORIS (this process) and by each of
     * `serverPids`: on a machine of few cores their sum, not the network, bounds the time.
     */
    cpu_s: Record<string, number>;
  };
  /** Early marking (src/runtime/marking.ts) at the end: on or off, switches, the largest heap after a full collection. */
  marking: MarkingState | null;
  /** A second no-op resync that checks every unreadable Secret (`--drift-checks-per-sync 0`). */
  noop_all?: { seconds: number; requests: Record<string, number>; audit_writes: number; cpu_s: Record<string, number> };
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory by kind (/proc/self/status): anonymous (heap, malloc) and file-backed (node's own binary and its embedded data, as far as touched). */
function rssKinds(): { anon: number; file: number } {
  return { anon: statusBytes('self', 'RssAnon'), file: statusBytes('self', 'RssFile') };
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [method, n] of Object.entries(after)) {
    const d = n - (before[method] ?? 0);
    if (d > 0) out[method] = d;
  }
  return out;
}

const writeMethods = ['PATCH', 'PUT', 'POST', 'DELETE'];
const log = (line: string) => process.stderr.write(`    doris: ${line}\n`);

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as SyncChildConfig;
  // Every module is loaded by now (static imports): the floor before any work.
  const afterImports = process.memoryUsage.rss();
  let peak = afterImports;
  let samples = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    samples += 1;
  }, 50);

  const stages: SyncChildResult['stages'] = [];
  let stageStarted = 0;
  let waitMs = 0;
  const progress = (event: ProgressEvent) => {
    if (event.type === 'stage') stageStarted = performance.now();
    else if (event.type === 'applied') {
      const ms = performance.now() - stageStarted;
      const c = event.counts;
      stages.push({ label: event.label, objects: c.created + c.configured + c.unchanged + c.recreated, ms });
    } else if (event.type === 'healthy') {
      waitMs += event.ms;
      log(`${event.label}: ${event.objects} objects healthy after ${(event.ms / 1000).toFixed(2)} s`);
    } else if (event.type === 'problem') log(`problem: ${event.problem.file}: ${event.problem.message}`);
    else if (event.type === 'notice') log(`note: ${event.message}`);
  };

  const rawSpec = { git: { url: config.repo, branch: 'main', path: 'deploy' }, prune: { enabled: true, allowMass: false } };
  const spec = parsePipelineSpec(rawSpec);
  const credentials = gitCredentialsFromFlags();

  const started = performance.now();
  const client = await connectKube(config.kubeconfig);
  // Both syncs (cold and no-op) run as `doris sync --once` would run them, but as in
  // `doris run`: the no-op resync finds the commit parsed already, and checks at most the
  // controller's default share of unreadable Secrets for drift at the Pipeline's interval
  // (apply/drift-rotation.ts).
  const renderCache = new RenderCache();
  const driftRotation = new DriftRotation(config.driftChecksPerSync ?? defaultDriftChecksPerSync, defaultDriftCheckPeriodMs);
  driftRotation.intervalMs = syncIntervalMs(spec);
  const syncContext = (pipeline: Pipeline, onProgress: (event: ProgressEvent) => void): SyncContext => ({
    client,
    renderCache,
    driftRotation,
    pipeline,
    spec,
    credentials,
    workDir: config.workDir,
    controllerNamespace: config.namespace,
    controllerDeployment: 'doris',
    progress: onProgress,
  });
  let outcomes: SyncOutcome[];
  try {
    await ensurePipelineCrd(client);
    if (!(await client.get({ apiVersion: 'v1', kind: 'Namespace', name: config.namespace }))) {
      await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: config.namespace } }, { manager: 'doris-cli' });
    }
    const pipeline = await applyPipeline(client, config.namespace, config.pipeline, rawSpec);
    outcomes = await reconcilePipeline(syncContext(pipeline, progress));
  } catch (error) {
    outcomes = [
      {
        commit: '',
        result: Reasons.ApplyFailed,
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        counts: { created: 0, configured: 0, unchanged: 0, recreated: 0, pruned: 0 },
        wrote: true,
      },
    ];
  }
  const syncMs = performance.now() - started;
  const processS = process.uptime();
  const vmhwm = statusBytes('self', 'VmHWM');
  peak = Math.max(peak, process.memoryUsage.rss());
  const syncPeak = peak;
  const requests = { ...client.counts };
  const failed = outcomes.find((o) => o.result !== Reasons.Succeeded);
  const last = outcomes.at(-1);
  const counts = last?.counts ?? {};

  // Steady state: what the process holds once the sync's garbage is gone.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(2000);
  gc?.();
  const steadyMemory = process.memoryUsage();
  const steady = steadyMemory.rss;
  const kinds = rssKinds();
  clearInterval(sampler);

  const result: SyncChildResult = {
    ok: !failed,
    error: failed ? `${failed.result}: ${failed.message}` : undefined,
    objects: Object.values(counts).reduce((a: number, b) => a + (b as number), 0),
    sync_s: syncMs / 1000,
    process_s: processS,
    apply_s: stages.reduce((a, s) => a + s.ms, 0) / 1000,
    wait_s: waitMs / 1000,
    stages,
    counts: counts as Record<string, number>,
    requests,
    rss_mib: {
      peak_sampled: mib(syncPeak),
      vmhwm: mib(vmhwm),
      peak: mib(Math.max(syncPeak, vmhwm)),
      steady: mib(steady),
      samples,
      after_imports: mib(afterImports),
      steady_anon: mib(kinds.anon),
      steady_file: mib(kinds.file),
    },
    steady_memory_mib: {
      heap_total: mib(steadyMemory.heapTotal),
      heap_used: mib(steadyMemory.heapUsed),
      external: mib(steadyMemory.external),
      array_buffers: mib(steadyMemory.arrayBuffers),
    },
    marking: null,
  };

  /**
   * A no-op resync, as the controller runs it every interval: CRD check, read the Pipeline,
   * reconcile, in the same process (so the commit is parsed already). Nothing changed in git
   * or in the cluster.
   */
  async function noopResync(rotation: DriftRotation): Promise<NonNullable<SyncChildResult['noop']>> {
    const before = { ...client.counts };
    const mark = auditMark(config.auditLog);
    const serversCpu = () =>
      Object.entries(config.serverPids ?? {}).flatMap(([name, pid]): Array<[string, number]> => {
        const seconds = processCpuS(pid);
        return seconds === undefined ? [] : [[name, seconds]];
      });
    const serversBefore = new Map(serversCpu());
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const marks: { commit?: number; firstStage?: number; lastApplied?: number } = {};
    const noopProgress = (event: ProgressEvent) => {
      if (event.type === 'commit') marks.commit = performance.now();
      else if (event.type === 'stage') marks.firstStage ??= performance.now();
      else if (event.type === 'applied') marks.lastApplied = performance.now();
    };
    await ensurePipelineCrd(client);
    const pipeline = await getPipeline(client, config.namespace, config.pipeline);
    if (!pipeline) throw new Error(`Pipeline ${config.namespace}/${config.pipeline} vanished`);
    const noopOutcomes = await reconcilePipeline({ ...syncContext(pipeline, noopProgress), driftRotation: rotation });
    const t1 = performance.now();
    const dorisCpu = process.cpuUsage(cpuBefore);
    const cpu_s: Record<string, number> = { doris: (dorisCpu.user + dorisCpu.system) / 1e6 };
    for (const [name, seconds] of serversCpu()) cpu_s[name] = seconds - (serversBefore.get(name) ?? seconds);
    const seconds = (t1 - t0) / 1000;
    const commitAt = marks.commit ?? t1;
    const firstStageAt = marks.firstStage ?? commitAt;
    const lastAppliedAt = marks.lastApplied ?? firstStageAt;
    const noopRequests = delta(client.counts, before);
    // The audit backend writes an event once the response is complete: give it a moment.
    await sleep(500);
    const writes = writesBy(readAuditSince(config.auditLog, mark), config.user);
    const outcome = noopOutcomes.at(-1)!;
    return {
      seconds,
      result: outcome.result,
      message: outcome.message,
      wrote: outcome.wrote,
      drift_checked_later: outcome.driftCheckedLater ?? 0,
      requests: noopRequests,
      client_writes: writeMethods.reduce((a, m) => a + (noopRequests[m] ?? 0), 0),
      audit_writes: writes.length,
      audit_write_samples: writes.slice(0, 5).map((e) => `${e.verb} ${e.requestURI}`),
      phases_s: {
        resolve: (commitAt - t0) / 1000,
        prepare: (firstStageAt - commitAt) / 1000,
        stages: (lastAppliedAt - firstStageAt) / 1000,
        finish: (t1 - lastAppliedAt) / 1000,
      },
      cpu_s,
    };
  }

  if (!failed && config.noop !== false) {
    result.noop = await noopResync(driftRotation);
    // The same with every unreadable Secret checked, as `--drift-checks-per-sync 0` runs it.
    const all = await noopResync(new DriftRotation(0));
    result.noop_all = { seconds: all.seconds, requests: all.requests, audit_writes: all.audit_writes, cpu_s: all.cpu_s };
  }
  client.close();
  result.marking = marking ? { ...marking } : null;
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`sync-child: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
