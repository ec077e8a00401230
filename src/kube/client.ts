/**
 * The narrow interface between DORIS and the API server: server-side apply (and its dry
 * run), get, list, delete, and patches of a Pipeline's status. Everything above this file
 * deals in plain objects; everything below is HTTP.
 */
import type { KubeObject } from '../render/types.js';
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

export class KubeClient {
  readonly discovery: Discovery;

  constructor(readonly http: KubeHttp) {
    this.discovery = new Discovery(http);
  }

  static async connect(kubeconfig?: string): Promise<KubeClient> {
    const http = kubeconfig ? await KubeHttp.fromKubeconfigFile(kubeconfig) : await KubeHttp.connect();
    return new KubeClient(http);
  }

  close(): void {
    this.http.close();
  }

  /** Path of a collection (no name) or of one object. */
  path(info: ResourceInfo, namespace?: string, name?: string): string {
    const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${info.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  async pathOf(key: ObjectKey): Promise<string> {
    return this.path(await this.discovery.resolve(key.apiVersion, key.kind), key.namespace, key.name);
  }

  /**
   * Server-side apply with our field manager, conflicts forced. `created` is true when the
   * apply created the object (the API server answers 201).
   */
  async apply(object: KubeObject, options: { dryRun?: boolean; manager?: string } = {}): Promise<{ object: KubeObject; created: boolean }> {
    const path = await this.pathOf({
      apiVersion: object.apiVersion,
      kind: object.kind,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
    });
    const { status, body } = await this.http.request<KubeObject>('PATCH', path, {
      query: { fieldManager: options.manager ?? fieldManager, force: true, dryRun: options.dryRun ? 'All' : undefined },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
    return { object: lean(body), created: status === 201 };
  }

  async get(key: ObjectKey): Promise<KubeObject | undefined> {
    const res = await this.http.request<KubeObject>('GET', await this.pathOf(key), { accept: [404] });
    return res.status === 404 ? undefined : lean(res.body);
  }

  async list(apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    const info = await this.discovery.resolve(apiVersion, kind);
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    do {
      const { body } = await this.http.request<{ items: KubeObject[]; metadata?: { continue?: string } }>(
        'GET',
        this.path(info, options.namespace),
        { query: { labelSelector: options.labelSelector, limit: 500, continue: continueToken } },
      );
      for (const item of body.items) items.push(lean({ ...item, apiVersion, kind }));
      continueToken = body.metadata?.continue || undefined;
    } while (continueToken);
    return items;
  }

  /**
   * Deletes an object: `gone` once it no longer exists (or never did), `terminating` while
   * finalizers or a grace period keep it (the API server answers with the object itself).
   */
  async delete(key: ObjectKey, propagationPolicy: PropagationPolicy = 'Background'): Promise<'gone' | 'terminating'> {
    const res = await this.http.request<{ kind?: string; metadata?: { deletionTimestamp?: string } }>('DELETE', await this.pathOf(key), {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy },
      accept: [404],
    });
    if (res.status === 404 || res.body?.kind === 'Status') return 'gone';
    return res.body?.metadata?.deletionTimestamp ? 'terminating' : 'gone';
  }

  async mergePatch(key: ObjectKey, patch: unknown, subresource?: 'status'): Promise<KubeObject> {
    const path = (await this.pathOf(key)) + (subresource ? `/${subresource}` : '');
    const { body } = await this.http.request<KubeObject>('PATCH', path, {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
    return body;
  }
}

/**
 * Drops `metadata.managedFields`: DORIS never reads them, and on a 1,000-object sync they
 * are most of the bytes held in memory (several KiB per object, in several copies).
 */
function lean(object: KubeObject): KubeObject {
  if (object?.metadata?.managedFields !== undefined) delete object.metadata.managedFields;
  return object;
}
