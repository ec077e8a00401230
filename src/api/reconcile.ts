/**
 * Asking the running controller to sync a Pipeline now (`doris reconcile`), as with Flux's
 * `reconcile.fluxcd.io/requestedAt`: the CLI sets an annotation with a fresh value, the
 * controller's watch sees it change and syncs at once, and once that sync has ended the
 * controller copies the value to `status.lastHandledReconcileAt`. A client that waits compares
 * the two values, never clocks, so a skew between the CLI's machine and the cluster cannot
 * fool it.
 */
export const reconcileRequestAnnotation = 'doris.dev/reconcile-requested-at';

interface Annotated {
  metadata: object;
  status?: unknown;
}

/** The value of the request annotation, if any. */
export function reconcileRequest(pipeline: Annotated | undefined): string | undefined {
  const { annotations } = (pipeline?.metadata ?? {}) as { annotations?: Record<string, string> };
  return annotations?.[reconcileRequestAnnotation] || undefined;
}

/** The last request a finished sync answered (status.lastHandledReconcileAt). */
export function handledReconcile(pipeline: Annotated | undefined): string | undefined {
  const status = pipeline?.status as { lastHandledReconcileAt?: unknown } | undefined;
  return typeof status?.lastHandledReconcileAt === 'string' ? status.lastHandledReconcileAt : undefined;
}
