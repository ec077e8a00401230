/**
 * An in-memory KubeClient for the hub's unit tests: the kinds the hub uses, 409 on a create of
 * an existing object and on a replace with a stale resourceVersion (the enrollment token's
 * precondition), JSON merge patches (null deletes), and a watch that streams every change
 * after it started. Not an API server: what one really does is proven in
 * test/e2e/hub_server_test.ts.
 */
import type { KubeClient, ListOptions, ObjectKey, WatchEvent, WatchOptions } from '../../../src/kube/client.js';
import type { ResourceInfo } from '../../../src/kube/discovery.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/kube/object.js';

const kinds: ResourceInfo[] = [
  { group: '', version: 'v1', kind: 'Secret', resource: 'secrets', namespaced: true },
  { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true },
  { group: 'hub.doris.dev', version: 'v1alpha1', kind: 'Device', resource: 'devices', namespaced: true },
  { group: 'hub.doris.dev', version: 'v1alpha1', kind: 'Fleet', resource: 'fleets', namespaced: true },
];

const keyOf = (k: { kind: string; namespace?: string; name: string }) => `${k.kind}/${k.namespace ?? ''}/${k.name}`;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

export class HubFakeKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly counts: Record<string, number> = {};
  /** Writes made: `VERB kind/ns/name[/status]`. */
  readonly writes: string[] = [];
  private rv = 1;
  private uid = 1;
  private readonly watchers = new Set<(event: WatchEvent) => void>();
  /** Called before each write: a test may throw from it (or change state) to simulate a race. */
  beforeWrite: (verb: string, key: string) => void = () => undefined;

  readonly discovery = {
    find: async (apiVersion: string, kind: string) => kinds.find((k) => k.kind === kind && (k.group ? `${k.group}/${k.version}` : k.version) === apiVersion),
    findInGroup: async (group: string, kind: string) => kinds.find((k) => k.kind === kind && k.group === group),
    resolve: async (apiVersion: string, kind: string) => {
      const found = kinds.find((k) => k.kind === kind && (k.group ? `${k.group}/${k.version}` : k.version) === apiVersion);
      if (!found) throw new Error(`unknown kind ${apiVersion} ${kind}`);
      return found;
    },
    invalidate: () => undefined,
  };

  private count(verb: string, key: string): void {
    this.counts[verb] = (this.counts[verb] ?? 0) + 1;
    if (verb !== 'GET' && verb !== 'LIST') {
      this.beforeWrite(verb, key);
      this.writes.push(`${verb} ${key}`);
    }
  }

  private store(object: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(this.rv++);
    stored.metadata.uid ??= `uid-${this.uid++}`;
    stored.metadata.creationTimestamp ??= new Date().toISOString();
    this.objects.set(keyOf({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }), stored);
    for (const watcher of this.watchers) watcher({ type, object: structuredClone(stored) });
    return structuredClone(stored);
  }

  /** Writes an object as someone else would (an admin, another replica). */
  seed(object: KubeObject): KubeObject {
    const exists = this.objects.has(keyOf({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }));
    return this.store(object, exists ? 'MODIFIED' : 'ADDED');
  }

  async apply(object: KubeObject): Promise<{ object: KubeObject; created: boolean }> {
    const key = keyOf({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
    this.count('APPLY', key);
    const created = !this.objects.has(key);
    return { object: this.store(object, created ? 'ADDED' : 'MODIFIED'), created };
  }

  async peek(key: ObjectKey): Promise<KubeObject | undefined> {
    return this.get(key);
  }

  async get(key: ObjectKey): Promise<KubeObject | undefined> {
    this.count('GET', keyOf(key));
    const found = this.objects.get(keyOf(key));
    return found ? structuredClone(found) : undefined;
  }

  async list(apiVersion: string, kind: string, options?: ListOptions): Promise<KubeObject[]> {
    return (await this.listVersioned(apiVersion, kind, options)).items;
  }

  async listVersioned(_apiVersion: string, kind: string, options: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    this.count('LIST', kind);
    const items = [...this.objects.values()].filter((o) => o.kind === kind && (options.namespace === undefined || o.metadata.namespace === options.namespace));
    return { items: structuredClone(items), resourceVersion: String(this.rv) };
  }

  async watch(_apiVersion: string, kind: string, _options: WatchOptions, onEvent: (event: WatchEvent) => void, signal?: AbortSignal): Promise<void> {
    const watcher = (event: WatchEvent) => {
      if (event.object.kind === kind) onEvent(event);
    };
    this.watchers.add(watcher);
    await new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    this.watchers.delete(watcher);
  }

  async create(object: KubeObject): Promise<KubeObject> {
    const key = keyOf({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
    this.count('POST', key);
    if (this.objects.has(key)) throw new KubeApiError('POST', key, 409, { reason: 'AlreadyExists', message: `${key} already exists` }, '');
    return this.store(object, 'ADDED');
  }

  async replace(object: KubeObject): Promise<KubeObject> {
    const key = keyOf({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
    this.count('PUT', key);
    const current = this.objects.get(key);
    if (!current) throw new KubeApiError('PUT', key, 404, { reason: 'NotFound', message: `${key} not found` }, '');
    if (object.metadata.resourceVersion !== undefined && object.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeApiError('PUT', key, 409, { reason: 'Conflict', message: 'the object has been modified' }, '');
    }
    // The main resource does not write status (a status subresource).
    return this.store({ ...object, status: current.status, metadata: { ...object.metadata, uid: current.metadata.uid } }, 'MODIFIED');
  }

  async delete(key: ObjectKey): Promise<'gone' | 'terminating'> {
    this.count('DELETE', keyOf(key));
    const current = this.objects.get(keyOf(key));
    if (current) {
      this.objects.delete(keyOf(key));
      for (const watcher of this.watchers) watcher({ type: 'DELETED', object: structuredClone(current) });
    }
    return 'gone';
  }

  async mergePatch(key: ObjectKey, patch: unknown, subresource?: 'status'): Promise<KubeObject> {
    this.count('MERGE', `${keyOf(key)}${subresource ? `/${subresource}` : ''}`);
    const current = this.objects.get(keyOf(key));
    if (!current) throw new KubeApiError('PATCH', keyOf(key), 404, { reason: 'NotFound', message: `${keyOf(key)} not found` }, '');
    // metadata.resourceVersion in a patch is a precondition, as on an API server.
    const expected = (patch as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
    if (expected !== undefined && expected !== current.metadata.resourceVersion) {
      throw new KubeApiError('PATCH', keyOf(key), 409, { reason: 'Conflict', message: `${keyOf(key)} was modified` }, '');
    }
    return this.store(mergePatch(current, patch) as KubeObject, 'MODIFIED');
  }

  impersonate(): KubeClient {
    return this;
  }

  close(): void {}
}
