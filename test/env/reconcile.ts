/**
 * Asks a running controller to sync a Pipeline now, the way `doris reconcile` does (the
 * `doris.dev/reconcile-requested-at` annotation), and tells when it has handled the request
 * (`status.lastHandledReconcileAt` echoes the annotation).
 */
import type { KubeHttp } from '../../src/kube/http.js';
import { waitFor } from './proc.js';

const annotation = 'doris.dev/reconcile-requested-at';
const pipelinePath = (namespace: string, name: string) => `/apis/doris.dev/v1alpha1/namespaces/${namespace}/pipelines/${name}`;

/** Sets the annotation to now. */
export async function requestReconcile(api: KubeHttp, namespace: string, name: string): Promise<void> {
  await api.request('PATCH', pipelinePath(namespace, name), {
    body: { metadata: { annotations: { [annotation]: new Date().toISOString() } } },
    contentType: 'application/merge-patch+json',
  });
}

/** Waits until the controller has handled the latest request. */
export async function reconcileHandled(api: KubeHttp, namespace: string, name: string): Promise<void> {
  await waitFor('the reconcile handled', async () => {
    const res = await api.request<{ metadata: { annotations?: Record<string, string> }; status?: { lastHandledReconcileAt?: string } }>(
      'GET',
      pipelinePath(namespace, name),
    );
    return res.body.status?.lastHandledReconcileAt === res.body.metadata.annotations?.[annotation];
  });
}
