/**
 * Keeping the cluster the same size between repetitions: every repetition uses a fresh set
 * of namespaces, deleted (and waited for) before the next one starts.
 */
import type { KubeHttp } from '../src/kube/http.js';
import { benchLabel } from './workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deletes the namespaces and waits until they are gone; returns the seconds it took. */
export async function deleteNamespaces(api: KubeHttp, names: string[], timeoutMs = 10 * 60_000): Promise<number> {
  const started = performance.now();
  await Promise.all(names.map((ns) => api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404, 409] })));
  const deadline = Date.now() + timeoutMs;
  let left = names;
  while (left.length > 0) {
    if (Date.now() > deadline) throw new Error(`namespaces not gone after ${timeoutMs / 1000}s: ${left.join(', ')}`);
    await sleep(250);
    const still = await Promise.all(
      left.map(async (ns) => ((await api.request('GET', `/api/v1/namespaces/${ns}`, { accept: [404] })).status === 404 ? undefined : ns)),
    );
    left = still.filter((ns): ns is string => ns !== undefined);
  }
  return (performance.now() - started) / 1000;
}

/** Namespaces left by an earlier, interrupted benchmark run. */
export async function leftoverNamespaces(api: KubeHttp): Promise<string[]> {
  const { body } = await api.request<{ items: Array<{ metadata: { name: string } }> }>('GET', '/api/v1/namespaces', {
    query: { labelSelector: benchLabel },
  });
  return body.items.map((i) => i.metadata.name);
}

/** Deletes a Pipeline (it only records status; its objects went with their namespaces). */
export async function deletePipeline(api: KubeHttp, namespace: string, name: string): Promise<void> {
  await api.request('DELETE', `/apis/doris.dev/v1alpha1/namespaces/${namespace}/pipelines/${name}`, { accept: [404] });
}

/** Pipelines left by an earlier benchmark run (their names start with `bench-`). */
export async function leftoverPipelines(api: KubeHttp, namespace: string): Promise<string[]> {
  const res = await api.request<{ items: Array<{ metadata: { name: string } }> }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${namespace}/pipelines`, {
    accept: [404],
  });
  if (res.status === 404) return [];
  return res.body.items.map((i) => i.metadata.name).filter((n) => n.startsWith('bench-'));
}
