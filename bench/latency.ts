/**
 * Change latency: one file changed and pushed, then the time until the cluster shows the
 * change (the probe ConfigMap polled every 50 ms). The clock starts when the push returns.
 *
 * With the `doris run` controller (src/cli/run.ts), the controller does the work: polling
 * at its shortest interval, and, when it serves a GitHub webhook, a signed push event.
 * Without it, "poll mode" is what a CronJob running `doris sync --once` does on its next
 * tick: a fresh `doris sync --once` process started right after the push.
 */
import type { KubeHttp } from '../src/kube/http.js';
import { doris } from '../test/env/doris.js';
import { pushFiles, type TestEnv } from '../test/env/testenv.js';
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

/** Polls the probe ConfigMap every 50 ms until its REVISION is `revision`; resolves with the time it was seen. */
export async function waitForRevision(api: KubeHttp, namespace: string, name: string, revision: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`, { accept: [404] });
    if (res.status === 200 && res.body.data?.REVISION === String(revision)) return performance.now();
    if (Date.now() > deadline) throw new Error(`ConfigMap ${namespace}/${name} did not reach REVISION ${revision} within ${timeoutMs / 1000}s`);
    await sleep(50);
  }
}

/** Pushes the probe file at `revision`; returns when the push is done (performance.now()). */
export async function pushRevision(env: TestEnv, target: ProbeTarget, revision: number): Promise<{ pushedAt: number; namespace: string; name: string; commit: string }> {
  const workload = generateWorkload(target.objects, target.prefix, target.run, revision);
  const { probe } = workload;
  const commit = await pushFiles(env, target.repo, { [probe.file]: workload.files[probe.file]! }, `bench: probe revision ${revision}`);
  return { pushedAt: performance.now(), namespace: probe.namespace, name: probe.name, commit };
}

/** Poll mode without a controller: push, then one `doris sync --once` (a CronJob's next tick). */
export async function syncOnceLatency(env: TestEnv, api: KubeHttp, target: ProbeTarget, revision: number): Promise<number> {
  const { pushedAt, namespace, name } = await pushRevision(env, target, revision);
  const seen = waitForRevision(api, namespace, name, revision);
  const result = await doris(env, [
    '--kubeconfig', env.KUBECONFIG,
    '--namespace', target.controllerNamespace,
    '--work-dir', target.workDir,
    'sync', '--once', '--repo', target.repo, '--name', target.pipeline,
  ]);
  if (result.code !== 0) throw new Error(`doris sync --once failed (${result.code}): ${result.stderr.slice(-2000)}`);
  return ((await seen) - pushedAt) / 1000;
}
