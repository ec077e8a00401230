/**
 * A snapshot of the live objects a Pipeline owns, listed once per kind at the start of a
 * sync (one LIST per kind, filtered by our ownership labels, instead of one GET per object).
 * The applier uses it to skip unchanged objects and the health check to skip objects that
 * are already healthy.
 */
import { KubeApiError } from '../kube/http.js';
import type { KubeClient } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { objectId } from '../render/objectid.js';
import { ownershipSelector } from '../render/stamp.js';
import type { KubeObject } from '../render/types.js';

export class LiveSnapshot {
  private readonly byKind = new Map<string, Promise<Map<string, KubeObject>>>();

  constructor(
    private readonly client: KubeClient,
    private readonly pipeline: string,
  ) {}

  private kindKey(apiVersion: string, kind: string): string {
    return `${apiVersion}/${kind}`;
  }

  private load(apiVersion: string, kind: string): Promise<Map<string, KubeObject>> {
    const key = this.kindKey(apiVersion, kind);
    let entry = this.byKind.get(key);
    if (!entry) {
      entry = this.client
        .list(apiVersion, kind, { labelSelector: ownershipSelector(this.pipeline) })
        .then((items) => new Map(items.map((item) => [objectId(item), item])))
        .catch((error: unknown) => {
          // A kind whose CRD is not installed yet has no live objects; a kind we may write but
          // not list (Secrets outside our namespace, by design) is applied without a snapshot.
          if (error instanceof UnknownKindError || (error instanceof KubeApiError && (error.status === 404 || error.status === 403))) return new Map();
          throw error;
        });
      this.byKind.set(key, entry);
    }
    return entry;
  }

  /** Lists every kind in `objects` at once (concurrently). */
  async prefetch(objects: KubeObject[]): Promise<void> {
    const kinds = new Map(objects.map((o) => [this.kindKey(o.apiVersion, o.kind), o]));
    await Promise.all([...kinds.values()].map((o) => this.load(o.apiVersion, o.kind)));
  }

  async get(object: KubeObject): Promise<KubeObject | undefined> {
    return (await this.load(object.apiVersion, object.kind)).get(objectId(object));
  }
}
