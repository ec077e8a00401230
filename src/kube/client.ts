/**
 * The narrow interface between DORIS and the API server. Everything above this file deals in
 * plain objects through `KubeClient`; `HttpKubeClient` is the one implementation that speaks
 * HTTP, and unit tests of apply, prune, the live snapshot, the wave wait and the controller
 * use a fake of the same interface.
 *
 * Every value that ends up in a request path (group, version, namespace, name) comes from an
 * untrusted repository. The path is built here, segment by segment: a segment that is empty,
 * `.` or `..` (which URL parsing would collapse, turning `DELETE .../namespaces/x/configmaps/..`
 * into a delete of the namespace) is refused, and every segment is percent-encoded, so that no
 * value can change which URL is hit.
 */
import type { KubeObject } from './object.js';
import { Discovery, type ResourceInfo } from './discovery.js';
import { KubeHttp } from './http.js';

export const fieldManager = 'doris';

export interface ObjectKey {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

/** A delete goes ahead only while the object is still this one (and, if given, unchanged). */
export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number };
}

export interface WatchOptions {
  namespace?: string;
  resourceVersion: string;
  timeoutSeconds: number;
}

/** What `discovery` offers: the REST resource behind a kind. */
export interface KindResolver {
  find(apiVersion: string, kind: string): Promise<ResourceInfo | undefined>;
  /** The kind in whichever version of `group` serves it, the preferred first. */
  findInGroup(group: string, kind: string): Promise<ResourceInfo | undefined>;
  resolve(apiVersion: string, kind: string): Promise<ResourceInfo>;
  invalidate(apiVersion?: string): void;
}

export interface KubeClient {
  readonly discovery: KindResolver;
  /** Requests made, by HTTP method (tests and benchmarks count writes). */
  readonly counts: Readonly<Record<string, number>>;
  /**
   * Server-side apply with our field manager, conflicts forced. `created` is true when the
   * apply created the object (the API server answers 201).
   */
  apply(object: KubeObject, options?: { dryRun?: boolean; manager?: string }): Promise<{ object: KubeObject; created: boolean }>;
  get(key: ObjectKey): Promise<KubeObject | undefined>;
  /**
   * The object as stored, for an identity that may patch it but not read it: an empty JSON
   * merge patch, dry-run (nothing is written, the resourceVersion does not move). Undefined
   * when it does not exist.
   */
  peek(key: ObjectKey): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, options?: ListOptions): Promise<KubeObject[]>;
  /** A list with the collection's resourceVersion, to start a watch from. */
  listVersioned(apiVersion: string, kind: string, options?: ListOptions): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** Streams changes until the server ends the watch or `signal` aborts it. */
  watch(apiVersion: string, kind: string, options: WatchOptions, onEvent: (event: WatchEvent) => void, signal?: AbortSignal): Promise<void>;
  /** POST: creates an object; fails with 409 if it exists. */
  create(object: KubeObject): Promise<KubeObject>;
  /** PUT: replaces an object; fails with 409 if its resourceVersion is stale. */
  replace(object: KubeObject): Promise<KubeObject>;
  /**
   * Deletes an object: `gone` once it no longer exists (or never did), `terminating` while
   * finalizers or a grace period keep it. With preconditions the API server refuses (409) a
   * delete of another object of the same name, or of one changed since.
   */
  delete(key: ObjectKey, propagationPolicy?: PropagationPolicy, preconditions?: DeletePreconditions): Promise<'gone' | 'terminating'>;
  mergePatch(key: ObjectKey, patch: unknown, subresource?: 'status'): Promise<KubeObject>;
  /** The same client, every request made as `user` (`Impersonate-User`). */
  impersonate(user: string): KubeClient;
  close(): void;
}

/** A value that would change which URL is hit if it went into a path. */
export class UnsafePathSegmentError extends Error {
  constructor(
    readonly what: string,
    readonly value: string,
  ) {
    super(`${what} ${JSON.stringify(value)} cannot be used in an API path (empty, "." or ".." are refused)`);
    this.name = 'UnsafePathSegmentError';
  }
}

/** One percent-encoded path segment; refuses values that URL parsing would reinterpret. */
export function pathSegment(value: string, what: string): string {
  // URL parsing collapses `.` and `..` segments (and their `%2e` forms; but a `%` in a value is
  // encoded as `%25`, so only a literal dot or two can become one).
  if (value === '' || value === '.' || value === '..') throw new UnsafePathSegmentError(what, value);
  return encodeURIComponent(value);
}

/** Path of a collection (no name) or of one object. */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string): string {
  const base = info.group
    ? `/apis/${pathSegment(info.group, 'API group')}/${pathSegment(info.version, 'API version')}`
    : `/api/${pathSegment(info.version, 'API version')}`;
  const ns = info.namespaced && namespace !== undefined ? `/namespaces/${pathSegment(namespace, 'namespace')}` : '';
  return `${base}${ns}/${pathSegment(info.resource, 'resource')}${name !== undefined ? `/${pathSegment(name, 'name')}` : ''}`;
}

export class HttpKubeClient implements KubeClient {
  readonly discovery: Discovery;
  /** Impersonating views by user (a Pipeline's ServiceAccount): few, one per account in use. */
  private readonly views = new Map<string, KubeClient>();

  constructor(
    readonly http: KubeHttp,
    discovery?: Discovery,
    /** False for an impersonating view: closing it must not close the shared connection. */
    private readonly ownsConnection = true,
  ) {
    this.discovery = discovery ?? new Discovery(http);
  }

  /** The same client over its own pool of `maxSockets` connections (see KubeHttp.withPool); close it when done. */
  async withPool(maxSockets: number): Promise<HttpKubeClient> {
    return new HttpKubeClient(await this.http.withPool(maxSockets), this.discovery);
  }

  static async connect(kubeconfig?: string): Promise<HttpKubeClient> {
    const http = kubeconfig ? await KubeHttp.fromKubeconfigFile(kubeconfig) : await KubeHttp.connect();
    return new HttpKubeClient(http);
  }

  get counts(): Readonly<Record<string, number>> {
    return this.http.counts;
  }

  close(): void {
    if (this.ownsConnection) this.http.close();
  }

  impersonate(user: string): KubeClient {
    // One view per user, made once: what is remembered per client (the LIST refusals a live
    // snapshot keeps for 5 minutes, apply/live.ts) then holds from one sync to the next for a
    // Pipeline with spec.serviceAccountName too. Discovery is the same for every identity.
    let view = this.views.get(user);
    if (!view) {
      view = new HttpKubeClient(this.http.impersonating(user), this.discovery, false);
      this.views.set(user, view);
    }
    return view;
  }

  /** Path of one object; an object operation always names its object. */
  private async objectPath(key: ObjectKey): Promise<string> {
    const info = await this.discovery.resolve(key.apiVersion, key.kind);
    if (info.namespaced && key.namespace === undefined) throw new UnsafePathSegmentError('namespace of a namespaced object', '');
    return resourcePath(info, key.namespace, key.name);
  }

  private static keyOf(object: KubeObject): ObjectKey {
    return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  }

  async apply(object: KubeObject, options: { dryRun?: boolean; manager?: string } = {}): Promise<{ object: KubeObject; created: boolean }> {
    const path = await this.objectPath(HttpKubeClient.keyOf(object));
    const { status, body } = await this.http.request<KubeObject>('PATCH', path, {
      query: { fieldManager: options.manager ?? fieldManager, force: true, dryRun: options.dryRun ? 'All' : undefined },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
    return { object: lean(body), created: status === 201 };
  }

  async peek(key: ObjectKey): Promise<KubeObject | undefined> {
    const res = await this.http.request<KubeObject>('PATCH', await this.objectPath(key), {
      query: { dryRun: 'All' },
      body: {},
      contentType: 'application/merge-patch+json',
      accept: [404],
    });
    return res.status === 404 ? undefined : lean(res.body);
  }

  async get(key: ObjectKey): Promise<KubeObject | undefined> {
    const res = await this.http.request<KubeObject>('GET', await this.objectPath(key), { accept: [404] });
    return res.status === 404 ? undefined : lean(res.body);
  }

  async list(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeObject[]> {
    return (await this.listVersioned(apiVersion, kind, options)).items;
  }

  async listVersioned(apiVersion: string, kind: string, options: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const info = await this.discovery.resolve(apiVersion, kind);
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const { body } = await this.http.request<{ items: KubeObject[]; metadata?: { continue?: string; resourceVersion?: string } }>(
        'GET',
        resourcePath(info, options.namespace),
        { query: { labelSelector: options.labelSelector, limit: 500, continue: continueToken } },
      );
      for (const item of body.items) items.push(lean({ ...item, apiVersion, kind }));
      continueToken = body.metadata?.continue || undefined;
      resourceVersion = body.metadata?.resourceVersion ?? resourceVersion;
    } while (continueToken);
    return { items, resourceVersion };
  }

  async watch(apiVersion: string, kind: string, options: WatchOptions, onEvent: (event: WatchEvent) => void, signal?: AbortSignal): Promise<void> {
    const info = await this.discovery.resolve(apiVersion, kind);
    await this.http.stream(
      resourcePath(info, options.namespace),
      { watch: 1, resourceVersion: options.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: options.timeoutSeconds },
      (raw) => {
        const event = raw as WatchEvent;
        if (event.type !== 'ERROR' && event.type !== 'BOOKMARK' && event.object) event.object = lean({ ...event.object, apiVersion, kind });
        onEvent(event);
      },
      signal,
    );
  }

  async create(object: KubeObject): Promise<KubeObject> {
    const info = await this.discovery.resolve(object.apiVersion, object.kind);
    const { body } = await this.http.request<KubeObject>('POST', resourcePath(info, object.metadata.namespace), { body: object });
    return lean(body);
  }

  async replace(object: KubeObject): Promise<KubeObject> {
    const { body } = await this.http.request<KubeObject>('PUT', await this.objectPath(HttpKubeClient.keyOf(object)), { body: object });
    return lean(body);
  }

  async delete(key: ObjectKey, propagationPolicy: PropagationPolicy = 'Background', preconditions?: DeletePreconditions): Promise<'gone' | 'terminating'> {
    const res = await this.http.request<{ kind?: string; metadata?: { deletionTimestamp?: string } }>('DELETE', await this.objectPath(key), {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy, ...(preconditions ? { preconditions } : {}) },
      accept: [404],
    });
    if (res.status === 404 || res.body?.kind === 'Status') return 'gone';
    return res.body?.metadata?.deletionTimestamp ? 'terminating' : 'gone';
  }

  async mergePatch(key: ObjectKey, patch: unknown, subresource?: 'status'): Promise<KubeObject> {
    const path = (await this.objectPath(key)) + (subresource ? `/${subresource}` : '');
    const { body } = await this.http.request<KubeObject>('PATCH', path, {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
    return body;
  }
}

/** Connects with a kubeconfig file, or KUBECONFIG / in-cluster / ~/.kube/config. */
export function connectKube(kubeconfig?: string): Promise<HttpKubeClient> {
  return HttpKubeClient.connect(kubeconfig);
}

/**
 * Drops `metadata.managedFields`: DORIS never reads them, and on a 1,000-object sync they
 * are most of the bytes held in memory (several KiB per object, in several copies).
 */
function lean(object: KubeObject): KubeObject {
  if (object?.metadata?.managedFields !== undefined) delete object.metadata.managedFields;
  return object;
}
