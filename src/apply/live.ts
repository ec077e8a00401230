/**
 * A snapshot of the live objects a Pipeline owns, listed once per kind at the start of a
 * sync (one LIST per kind, filtered by our ownership labels, instead of one GET per object).
 * The applier uses it to skip unchanged objects and the health check to skip objects that
 * are already healthy.
 *
 * Least privilege means some kinds cannot be listed cluster-wide: the shipped RBAC lets DORIS
 * write Secrets anywhere but read them only in its own namespace. For such a kind the
 * snapshot lists namespace by namespace, and remembers where it may not read: objects there
 * are *unreadable*, which is not the same as *absent* — the applier and prune treat them
 * with the uid and resourceVersion recorded at apply time instead
 * (docs/adr/0004-no-op-detection.md).
 */
import type { KubeClient } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { KubeApiError } from '../kube/http.js';
import { objectId } from '../kube/objectid.js';
import { ownershipSelector } from '../render/stamp.js';
import type { KubeObject } from '../render/types.js';

type Listing = Map<string, KubeObject> | 'forbidden';

/**
 * Scopes (kind, namespace) a client was refused a LIST in, and until when that is believed:
 * a resync does not ask again each time (for the shipped RBAC: Secrets, cluster-wide and in
 * every namespace of the Pipeline). A permission granted later is used within the time.
 */
const forbiddenScopes = new WeakMap<KubeClient, Map<string, number>>();
export const forbiddenTtlMs = 5 * 60_000;

/** What the snapshot knows of one object. */
export interface Lookup {
  /** The live object, when it exists and carries our ownership labels. */
  live?: KubeObject;
  /** False when DORIS may not read objects of this kind in this namespace. */
  readable: boolean;
}

export class LiveSnapshot {
  private readonly clusterWide = new Map<string, Promise<Listing>>();
  private readonly perNamespace = new Map<string, Promise<Listing>>();

  constructor(
    private readonly client: KubeClient,
    private readonly pipeline: string,
  ) {}

  private listing(apiVersion: string, kind: string, namespace?: string): Promise<Listing> {
    const scope = `${apiVersion}/${kind}/${namespace ?? ''}`;
    let refused = forbiddenScopes.get(this.client);
    if ((refused?.get(scope) ?? 0) > Date.now()) return Promise.resolve('forbidden');
    return this.client
      .list(apiVersion, kind, { namespace, labelSelector: ownershipSelector(this.pipeline) })
      .then((items): Listing => new Map(items.map((item) => [objectId(item), item])))
      .catch((error: unknown): Listing => {
        // A kind whose CRD is not installed yet has no live objects.
        if (error instanceof UnknownKindError || (error instanceof KubeApiError && error.status === 404)) return new Map();
        if (error instanceof KubeApiError && error.status === 403) {
          if (!refused) {
            refused = new Map();
            forbiddenScopes.set(this.client, refused);
          }
          refused.set(scope, Date.now() + forbiddenTtlMs);
          return 'forbidden';
        }
        throw error;
      });
  }

  private cached(cache: Map<string, Promise<Listing>>, key: string, load: () => Promise<Listing>): Promise<Listing> {
    let entry = cache.get(key);
    if (!entry) {
      entry = load();
      cache.set(key, entry);
    }
    return entry;
  }

  private async view(apiVersion: string, kind: string, namespace: string | undefined): Promise<Listing> {
    const kindKey = `${apiVersion}/${kind}`;
    const all = await this.cached(this.clusterWide, kindKey, () => this.listing(apiVersion, kind));
    if (all !== 'forbidden' || namespace === undefined) return all;
    return this.cached(this.perNamespace, `${kindKey}/${namespace}`, () => this.listing(apiVersion, kind, namespace));
  }

  /** Lists every kind (and, where needed, namespace) of `objects` at once, concurrently. */
  async prefetch(objects: KubeObject[]): Promise<void> {
    const kinds = new Map(objects.map((o) => [`${o.apiVersion}/${o.kind}`, o]));
    await Promise.all([...kinds.values()].map((o) => this.view(o.apiVersion, o.kind, undefined)));
    const scopes = new Map(objects.map((o) => [`${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}`, o]));
    await Promise.all([...scopes.values()].map((o) => this.view(o.apiVersion, o.kind, o.metadata.namespace)));
  }

  async lookup(object: KubeObject): Promise<Lookup> {
    const listing = await this.view(object.apiVersion, object.kind, object.metadata.namespace);
    if (listing === 'forbidden') return { readable: false };
    return { live: listing.get(objectId(object)), readable: true };
  }
}
