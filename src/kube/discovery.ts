/**
 * Discovery: which REST resource serves a kind, and whether it is namespaced.
 *
 * Asked lazily per group/version (`/api/v1`, `/apis/<group>/<version>`) and cached; a kind
 * that is not found causes one refresh of its group/version, because a CRD applied earlier
 * in the same sync may have just made it appear.
 */
import { KubeApiError, type KubeHttp } from './http.js';

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  /** Plural resource name used in paths, e.g. `deployments`. */
  resource: string;
  namespaced: boolean;
}

interface ApiResourceList {
  resources: Array<{ name: string; kind: string; namespaced: boolean }>;
}

export class UnknownKindError extends Error {
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
  ) {
    super(`the API server has no resource for kind ${kind} in ${apiVersion} (is its CRD installed?)`);
    this.name = 'UnknownKindError';
  }
}

export class Discovery {
  private readonly cache = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(private readonly http: KubeHttp) {}

  private load(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    let entry = this.cache.get(apiVersion);
    if (!entry) {
      entry = this.fetch(apiVersion);
      // A failed lookup must not be cached: the next call retries.
      entry.catch(() => this.cache.delete(apiVersion));
      this.cache.set(apiVersion, entry);
    }
    return entry;
  }

  private async fetch(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/', 2) as [string, string]) : ['', apiVersion];
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const kinds = new Map<string, ResourceInfo>();
    try {
      const { body } = await this.http.request<ApiResourceList>('GET', path);
      for (const r of body.resources) {
        if (r.name.includes('/')) continue; // subresources such as deployments/status
        kinds.set(r.kind, { group, version, kind: r.kind, resource: r.name, namespaced: r.namespaced });
      }
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 404)) throw error;
    }
    return kinds;
  }

  /** Forgets one group/version (or everything), e.g. after a CRD was applied. */
  invalidate(apiVersion?: string): void {
    if (apiVersion) this.cache.delete(apiVersion);
    else this.cache.clear();
  }

  async find(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const known = (await this.load(apiVersion)).get(kind);
    if (known) return known;
    this.invalidate(apiVersion);
    return (await this.load(apiVersion)).get(kind);
  }

  /**
   * A kind of `group` in whichever version the API server serves it, its preferred version
   * first; undefined when no version serves it (or the group is gone). For objects recorded
   * under a version the cluster has stopped serving since (a beta API removed by an upgrade).
   */
  async findInGroup(group: string, kind: string): Promise<ResourceInfo | undefined> {
    let versions: string[];
    if (group === '') versions = ['v1'];
    else {
      const res = await this.http.request<{ versions?: Array<{ groupVersion: string }>; preferredVersion?: { groupVersion: string } }>(
        'GET',
        `/apis/${group}`,
        {
          accept: [404],
        },
      );
      if (res.status === 404) return undefined;
      const preferred = res.body.preferredVersion?.groupVersion;
      versions = [...new Set([...(preferred ? [preferred] : []), ...(res.body.versions ?? []).map((v) => v.groupVersion)])];
    }
    for (const version of versions) {
      const info = await this.find(version, kind);
      if (info) return info;
    }
    return undefined;
  }

  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const info = await this.find(apiVersion, kind);
    if (!info) throw new UnknownKindError(apiVersion, kind);
    return info;
  }
}
