/**
 * Config hashes: a ConfigMap or Secret change rolls the workloads that use it.
 *
 * Kubernetes does not restart pods when a ConfigMap or Secret they read changes. So every
 * workload with a pod template — Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and
 * CronJob (its job template) — gets the pod-template annotation `doris.dev/config-hash`: a
 * hash over the data of every ConfigMap and Secret the template references (volumes,
 * projected volume sources, `env[].valueFrom` key refs and `envFrom`, in containers and
 * initContainers). New data, new hash, changed template: the workload rolls like on any
 * template change — no delete, and nothing changes (so nothing is written) while the data
 * stays the same. Bare Pods are left alone: their spec cannot change in place.
 *
 * A referenced object is taken from the rendered objects when the repository holds it (same
 * namespace and name), else looked up in the cluster (objects created at install, by hand or
 * by another controller). A missing reference marked `optional: true` is skipped; a missing
 * required one counts as "missing" in the hash, so that its creation rolls the workload. A
 * workload that references nothing (or only missing optional objects) gets no annotation.
 *
 * The hash is over `data`, `binaryData` and `stringData`, with keys sorted at every level
 * (never the order the keys came in), and objects sorted by kind, namespace and name. Only
 * the hash leaves this module: Secret values are never logged, returned or written.
 */
import { stableHash } from './hash.js';
import { podTemplatePath } from './images.js';
import type { DesiredObject, KubeObject } from './types.js';

export const configHashAnnotation = 'doris.dev/config-hash';

export type ConfigKind = 'ConfigMap' | 'Secret';

export interface ConfigReference {
  kind: ConfigKind;
  name: string;
  /** True only when every reference to the object in the template is optional. */
  optional: boolean;
}

/** Reads a ConfigMap or Secret from the cluster; undefined when it does not exist. */
export type ConfigLookup = (kind: ConfigKind, namespace: string, name: string) => Promise<KubeObject | undefined>;

type Loose = Record<string, unknown>;

const asRecord = (value: unknown): Loose | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : undefined);
const asList = (value: unknown): Loose[] => (Array.isArray(value) ? value.map(asRecord).filter((v): v is Loose => v !== undefined) : []);

/** Every ConfigMap and Secret a pod spec references, once each, sorted by kind and name. */
export function configReferences(podSpec: unknown): ConfigReference[] {
  const found = new Map<string, ConfigReference>();
  const add = (kind: ConfigKind, source: Loose | undefined, nameField = 'name'): void => {
    const name = source?.[nameField];
    if (typeof name !== 'string' || name === '') return;
    const optional = source?.optional === true;
    const key = `${kind}/${name}`;
    const known = found.get(key);
    found.set(key, { kind, name, optional: (known?.optional ?? true) && optional });
  };
  const spec = asRecord(podSpec);
  for (const volume of asList(spec?.volumes)) {
    add('ConfigMap', asRecord(volume.configMap));
    add('Secret', asRecord(volume.secret), 'secretName');
    for (const source of asList(asRecord(volume.projected)?.sources)) {
      add('ConfigMap', asRecord(source.configMap));
      add('Secret', asRecord(source.secret));
    }
  }
  for (const container of [...asList(spec?.initContainers), ...asList(spec?.containers)]) {
    for (const env of asList(container.env)) {
      const valueFrom = asRecord(env.valueFrom);
      add('ConfigMap', asRecord(valueFrom?.configMapKeyRef));
      add('Secret', asRecord(valueFrom?.secretKeyRef));
    }
    for (const envFrom of asList(container.envFrom)) {
      add('ConfigMap', asRecord(envFrom.configMapRef));
      add('Secret', asRecord(envFrom.secretRef));
    }
  }
  return [...found.values()].sort((a, b) => (`${a.kind}/${a.name}` < `${b.kind}/${b.name}` ? -1 : 1));
}

/** What of a ConfigMap or Secret goes into the hash. */
function hashedContent(object: KubeObject | undefined): Loose {
  if (!object) return { missing: true };
  return { data: object.data ?? {}, binaryData: object.binaryData ?? {}, stringData: object.stringData ?? {} };
}

function podTemplateOf(object: KubeObject, path: readonly string[]): Loose | undefined {
  let current: unknown = object;
  for (const key of path) current = asRecord(current)?.[key];
  return asRecord(current);
}

/**
 * Returns `objects` with `doris.dev/config-hash` set on the pod template of every workload
 * that references a ConfigMap or Secret. Namespaced objects without `metadata.namespace` are
 * taken to be in `defaultNamespace`. Errors of `lookup` propagate. Pure apart from `lookup`:
 * inputs are not modified; unchanged objects are returned as they are (same reference).
 */
export async function stampConfigHashes(objects: readonly DesiredObject[], lookup: ConfigLookup, defaultNamespace: string): Promise<DesiredObject[]> {
  const namespaceOf = (object: KubeObject): string => object.metadata.namespace || defaultNamespace;
  const rendered = new Map<string, KubeObject>();
  for (const { object } of objects) {
    if (object.apiVersion === 'v1' && (object.kind === 'ConfigMap' || object.kind === 'Secret')) {
      rendered.set(`${object.kind}/${namespaceOf(object)}/${object.metadata.name}`, object);
    }
  }
  const fetched = new Map<string, Promise<KubeObject | undefined>>();
  const find = (kind: ConfigKind, namespace: string, name: string): Promise<KubeObject | undefined> => {
    const key = `${kind}/${namespace}/${name}`;
    const local = rendered.get(key);
    if (local) return Promise.resolve(local);
    let pending = fetched.get(key);
    if (!pending) {
      pending = lookup(kind, namespace, name);
      fetched.set(key, pending);
    }
    return pending;
  };

  return Promise.all(
    objects.map(async (desired) => {
      const path = podTemplatePath(desired.object);
      if (!path || path.length === 0) return desired; // not a workload, or a bare Pod
      const references = configReferences(podTemplateOf(desired.object, path)?.spec);
      if (references.length === 0) return desired;
      const namespace = namespaceOf(desired.object);
      const entries: Loose[] = [];
      for (const reference of references) {
        const found = await find(reference.kind, namespace, reference.name);
        if (!found && reference.optional) continue;
        entries.push({ id: `${reference.kind}/${namespace}/${reference.name}`, ...hashedContent(found) });
      }
      if (entries.length === 0) return desired;
      const hash = stableHash(entries).slice(0, 32);
      const copy = structuredClone(desired.object);
      const template = podTemplateOf(copy, path);
      if (!template) return desired;
      const metadata = asRecord(template.metadata) ?? {};
      template.metadata = { ...metadata, annotations: { ...asRecord(metadata.annotations), [configHashAnnotation]: hash } };
      return { ...desired, object: copy };
    }),
  );
}
