/**
 * An in-memory `KubeClient` for unit tests of the logic around cluster I/O (preflight, apply,
 * prune, the live snapshot): plain objects in a map, a static discovery table, and rules that
 * forbid verbs the way RBAC would. It is not an API server: server-side apply is approximated
 * by replacing the object (keeping uid, bumping resourceVersion when anything changed), which
 * is enough for the decisions these units make. What an API server really does is proven in
 * test/e2e.
 */
import { isDeepStrictEqual } from 'node:util';
import type {
  DeletePreconditions,
  KindResolver,
  KubeClient,
  ListOptions,
  ObjectKey,
  PropagationPolicy,
  WatchEvent,
  WatchOptions,
} from '../../src/kube/client.js';
import type { ResourceInfo } from '../../src/kube/discovery.js';
import { UnknownKindError } from '../../src/kube/discovery.js';
import { KubeApiError } from '../../src/kube/http.js';
import type { KubeObject } from '../../src/render/types.js';

const kinds: ResourceInfo[] = [
  { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Secret', resource: 'secrets', namespaced: true },
  { group: '', version: 'v1', kind: 'Namespace', resource: 'namespaces', namespaced: false },
  { group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments', namespaced: true },
  { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', resource: 'customresourcedefinitions', namespaced: false },
];

export type Verb = 'get' | 'list' | 'patch' | 'delete' | 'create';

/** A request the fake refuses: `{verb, kind, namespace?}`; no namespace means every namespace. */
export interface Forbid {
  verb: Verb;
  kind: string;
  /** Forbidden in this namespace only; `cluster` forbids the cluster-wide form (list). */
  namespace?: string;
}

function keyOf(k: ObjectKey): string {
  return `${k.kind}/${k.namespace ?? ''}/${k.name}`;
}

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly counts: Record<string, number> = {};
  readonly requests: string[] = [];
  forbid: Forbid[] = [];
  /** Refusals for dry-runs and applies: a function returning an error for an object, or nothing. */
  refuse: (object: KubeObject) => KubeApiError | undefined = () => undefined;
  private nextRv = 1;
  private nextUid = 1;

  readonly discovery: KindResolver = {
    find: async (apiVersion, kind) => kinds.find((k) => k.kind === kind && (k.group ? `${k.group}/${k.version}` : k.version) === apiVersion),
    findInGroup: async (group, kind) => kinds.find((k) => k.kind === kind && k.group === group),
    resolve: async (apiVersion, kind) => {
      const found = await this.discovery.find(apiVersion, kind);
      if (!found) throw new UnknownKindError(apiVersion, kind);
      return found;
    },
    invalidate: () => undefined,
  };

  private count(method: string, what: string): void {
    this.counts[method] = (this.counts[method] ?? 0) + 1;
    this.requests.push(`${method} ${what}`);
  }

  private check(verb: Verb, kind: string, namespace: string | undefined): void {
    const hit = this.forbid.find((f) => f.verb === verb && f.kind === kind && (f.namespace === undefined || f.namespace === (namespace ?? 'cluster')));
    if (hit) throw new KubeApiError(verb.toUpperCase(), kind, 403, { reason: 'Forbidden', message: `${verb} ${kind} is forbidden` }, '');
  }

  /** Puts an object in place as if someone else had written it. */
  seed(object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    stored.metadata.uid = (object.metadata.uid as string | undefined) ?? `uid-${this.nextUid++}`;
    stored.metadata.resourceVersion = String(this.nextRv++);
    this.objects.set(keyOf({ ...object, namespace: object.metadata.namespace, name: object.metadata.name }), stored);
    return structuredClone(stored);
  }

  async apply(object: KubeObject, options: { dryRun?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
    await this.discovery.resolve(object.apiVersion, object.kind);
    this.count(options.dryRun ? 'DRYRUN' : 'PATCH', keyOf({ ...object, namespace: object.metadata.namespace, name: object.metadata.name }));
    this.check('patch', object.kind, object.metadata.namespace);
    const refusal = this.refuse(object);
    if (refusal) throw refusal;
    const key = keyOf({ ...object, namespace: object.metadata.namespace, name: object.metadata.name });
    const current = this.objects.get(key);
    const next = structuredClone(object);
    next.metadata.uid = current?.metadata.uid ?? `uid-${this.nextUid}`;
    const changed =
      !current ||
      !isDeepStrictEqual(
        { ...current, metadata: { ...current.metadata, uid: 0, resourceVersion: 0 } },
        { ...next, metadata: { ...next.metadata, uid: 0, resourceVersion: 0 } },
      );
    next.metadata.resourceVersion = changed && !options.dryRun ? String(this.nextRv++) : ((current?.metadata.resourceVersion as string | undefined) ?? '0');
    if (!options.dryRun) {
      if (!current) this.nextUid++;
      this.objects.set(key, next);
    }
    return { object: structuredClone(next), created: !current };
  }

  peek(key: ObjectKey): Promise<KubeObject | undefined> {
    return this.read(key, 'PEEK', 'patch');
  }

  get(key: ObjectKey): Promise<KubeObject | undefined> {
    return this.read(key, 'GET', 'get');
  }

  /** A copy of the stored object, as `request` (counted) needing RBAC `verb`. */
  private async read(key: ObjectKey, request: string, verb: Verb): Promise<KubeObject | undefined> {
    await this.discovery.resolve(key.apiVersion, key.kind);
    this.count(request, keyOf(key));
    this.check(verb, key.kind, key.namespace);
    const found = this.objects.get(keyOf(key));
    return found ? structuredClone(found) : undefined;
  }

  async list(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeObject[]> {
    return (await this.listVersioned(apiVersion, kind, options)).items;
  }

  async listVersioned(apiVersion: string, kind: string, options: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    await this.discovery.resolve(apiVersion, kind);
    this.count('LIST', `${kind}/${options.namespace ?? '*'}`);
    this.check('list', kind, options.namespace);
    const selector = (options.labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((s) => s.split('=') as [string, string]);
    const items = [...this.objects.values()].filter(
      (o) =>
        o.kind === kind &&
        (options.namespace === undefined || o.metadata.namespace === options.namespace) &&
        selector.every(([k, v]) => o.metadata.labels?.[k] === v),
    );
    return { items: structuredClone(items), resourceVersion: String(this.nextRv) };
  }

  async watch(_apiVersion: string, _kind: string, _options: WatchOptions, _onEvent: (event: WatchEvent) => void): Promise<void> {
    throw new Error('FakeKube does not watch');
  }

  async create(object: KubeObject): Promise<KubeObject> {
    this.count('POST', object.kind);
    return this.seed(object);
  }

  async replace(object: KubeObject): Promise<KubeObject> {
    this.count('PUT', object.kind);
    return this.seed(object);
  }

  async delete(key: ObjectKey, _policy?: PropagationPolicy, preconditions?: DeletePreconditions): Promise<'gone' | 'terminating'> {
    await this.discovery.resolve(key.apiVersion, key.kind);
    this.count('DELETE', keyOf(key));
    this.check('delete', key.kind, key.namespace);
    const current = this.objects.get(keyOf(key));
    if (!current) return 'gone';
    if (
      (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid) ||
      (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata.resourceVersion)
    ) {
      throw new KubeApiError('DELETE', keyOf(key), 409, { reason: 'Conflict', message: 'Precondition failed' }, '');
    }
    this.objects.delete(keyOf(key));
    return 'gone';
  }

  async mergePatch(key: ObjectKey, patch: unknown): Promise<KubeObject> {
    this.count('MERGE', keyOf(key));
    const current = this.objects.get(keyOf(key));
    if (!current) throw new KubeApiError('PATCH', keyOf(key), 404, { reason: 'NotFound' }, '');
    const next = { ...current, ...(patch as object) } as KubeObject;
    this.objects.set(keyOf(key), next);
    return structuredClone(next);
  }

  impersonate(): KubeClient {
    return this;
  }

  close(): void {}

  /** Writes made (dry-runs, reads and lists excluded). */
  writes(): string[] {
    return this.requests.filter((r) => /^(PATCH|POST|PUT|DELETE|MERGE) /.test(r));
  }
}
