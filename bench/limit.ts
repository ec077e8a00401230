/**
 * The limit: the API server's own ceiling for server-side apply on this machine. A plain
 * loop of concurrent apply PATCHes (concurrency 32, conflicts forced, no dry-run, no
 * waits) of the same objects, Namespaces first so that the rest has somewhere to go.
 */
import pLimit from 'p-limit';
import type { KubeHttp } from '../src/kube/http.js';
import type { KubeObject } from '../src/render/types.js';

const resources: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  'v1/Namespace': { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  'v1/ConfigMap': { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  'v1/Secret': { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  'v1/Service': { prefix: '/api/v1', plural: 'services', namespaced: true },
  'apps/v1/Deployment': { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  'batch/v1/Job': { prefix: '/apis/batch/v1', plural: 'jobs', namespaced: true },
};

function pathOf(object: KubeObject): string {
  const info = resources[`${object.apiVersion}/${object.kind}`];
  if (!info) throw new Error(`the limit loop does not know ${object.apiVersion} ${object.kind}`);
  const ns = info.namespaced ? `/namespaces/${object.metadata.namespace}` : '';
  return `${info.prefix}${ns}/${info.plural}/${object.metadata.name}`;
}

export interface LimitResult {
  objects: number;
  seconds: number;
  objects_per_s: number;
}

export async function applyLimit(api: KubeHttp, objects: KubeObject[], concurrency = 32): Promise<LimitResult> {
  const limit = pLimit(concurrency);
  const applyOne = (object: KubeObject) =>
    limit(() =>
      api.request('PATCH', pathOf(object), {
        query: { fieldManager: 'bench-limit', force: true },
        body: JSON.stringify(object),
        contentType: 'application/apply-patch+yaml',
      }),
    );
  // Open the connections first: the ceiling is the API server's, not TLS handshakes'.
  await Promise.all(Array.from({ length: concurrency }, () => limit(() => api.request('GET', '/api/v1/namespaces', { query: { limit: 1 } }))));
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  const rest = objects.filter((o) => o.kind !== 'Namespace');
  const started = performance.now();
  await Promise.all(namespaces.map(applyOne));
  await Promise.all(rest.map(applyOne));
  const seconds = (performance.now() - started) / 1000;
  return { objects: objects.length, seconds, objects_per_s: objects.length / seconds };
}
