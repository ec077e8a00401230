/**
 * The benchmark's repository: N objects spread over 10 waves, each wave a folder
 * `<n>-w<nn>` holding its own Namespace (so every run can use a fresh set of namespaces)
 * and a realistic mix: ConfigMaps and Secrets, Services, Deployments with one replica that
 * read a ConfigMap, and a few Jobs.
 *
 *     deploy/1-w01/00-namespace.yaml    Namespace <prefix>-w1 (DORIS hoists it to the prelude)
 *                  10-configmaps.yaml   step 10: ConfigMaps and Secrets
 *                  10-secrets.yaml
 *                  20-services.yaml     step 20: Services
 *                  30-deployments.yaml  step 30: Deployments
 *                  40-jobs.yaml         step 40: Jobs
 *
 * The same generator feeds the DORIS repository, the kubectl baseline (the same files, on
 * disk) and the limit (the same objects, as JSON).
 */
import { stringify } from 'yaml';
import type { KubeObject } from '../src/render/types.js';

export const waveCount = 10;

/** One step of one wave: its files, in the order kubectl is given them. */
export interface WorkloadStep {
  number: number;
  files: string[];
}

export interface WorkloadWave {
  number: number;
  folder: string;
  namespace: string;
  /** The Namespace's own file (step 00), applied before every wave, as DORIS's prelude does. */
  namespaceFile: string;
  /** The other steps, in numeric order. */
  steps: WorkloadStep[];
}

export interface Workload {
  /** Repository files, path -> content, relative to the repository root. */
  files: Record<string, string>;
  waves: WorkloadWave[];
  /** Every object, in apply order (namespaces first). */
  objects: KubeObject[];
  namespaces: string[];
  /** A ConfigMap of the last wave and its file: what the change-latency test edits. */
  probe: { file: string; namespace: string; name: string };
}

/** Label on every benchmark namespace, so that leftovers of an aborted run can be found. */
export const benchLabel = 'bench.doris.dev/run';

/** How many objects of each kind one wave holds (the Namespace included). */
export function waveMix(perWave: number): { configMaps: number; secrets: number; services: number; deployments: number; jobs: number } {
  if (perWave < 6) throw new Error(`at least 6 objects per wave are needed (${perWave * waveCount} objects asked for)`);
  const jobs = Math.max(1, Math.round(perWave * 0.02));
  const deployments = Math.max(1, Math.round(perWave * 0.2));
  const services = deployments;
  const rest = perWave - 1 - jobs - deployments - services;
  return { configMaps: Math.ceil(rest / 2), secrets: Math.floor(rest / 2), services, deployments, jobs };
}

const pad = (n: number, width = 3) => String(n).padStart(width, '0');

function yamlDocs(objects: KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

function configMap(ns: string, name: string, seed: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels: { app: 'bench', tier: 'config' } },
    data: {
      'app.properties': `log.level=info\ncache.size=${128 + seed}\nfeature.flags=a,b,c\n`,
      LISTEN_PORT: '8080',
      REVISION: '1',
    },
  };
}

function secret(ns: string, name: string, seed: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns, labels: { app: 'bench', tier: 'config' } },
    type: 'Opaque',
    data: {
      username: Buffer.from(`user-${seed}`).toString('base64'),
      password: Buffer.from(`not-a-real-password-${seed}`).toString('base64'),
    },
  };
}

function service(ns: string, name: string, app: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: { app } },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}

function deployment(ns: string, name: string, configMapName: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'main',
              image: `registry.example/bench/${name}:1.0.0`,
              ports: [{ containerPort: 8080 }],
              envFrom: [{ configMapRef: { name: configMapName } }],
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
            },
          ],
        },
      },
    },
  };
}

function job(ns: string, name: string): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns, labels: { app: 'bench-job' } },
    spec: {
      backoffLimit: 2,
      template: {
        metadata: { labels: { app: 'bench-job' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'registry.example/bench/migrate:1.0.0', args: ['--once'] }] },
      },
    },
  };
}

/**
 * The repository for `objects` objects whose namespaces are `<prefix>-w1` ... `-w10`.
 * `revision` changes the probe ConfigMap's data (for the change-latency test).
 */
export function generateWorkload(objects: number, prefix: string, run: string, revision = 1): Workload {
  const files: Record<string, string> = {};
  const waves: WorkloadWave[] = [];
  const namespaces: Array<KubeObject> = [];
  const rest: KubeObject[] = [];
  const base = Math.floor(objects / waveCount);
  const extra = objects % waveCount;
  let probe: Workload['probe'] | undefined;
  for (let w = 1; w <= waveCount; w += 1) {
    const perWave = base + (w <= extra ? 1 : 0);
    const mix = waveMix(perWave);
    const ns = `${prefix}-w${w}`;
    const folder = `deploy/${w}-w${pad(w, 2)}`;
    const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [benchLabel]: run } } };
    const cms = Array.from({ length: mix.configMaps }, (_, i) => configMap(ns, `config-${pad(i)}`, i));
    const last = cms.at(-1)!;
    if (w === waveCount) {
      (last.data as Record<string, string>).REVISION = String(revision);
      probe = { file: `${folder}/10-configmaps.yaml`, namespace: ns, name: last.metadata.name };
    }
    const secrets = Array.from({ length: mix.secrets }, (_, i) => secret(ns, `secret-${pad(i)}`, i));
    const deployments = Array.from({ length: mix.deployments }, (_, i) => deployment(ns, `app-${pad(i)}`, cms[i % cms.length]!.metadata.name));
    const services = deployments.map((d) => service(ns, d.metadata.name, d.metadata.name));
    const jobs = Array.from({ length: mix.jobs }, (_, i) => job(ns, `migrate-${pad(i)}`));
    const stepFiles: Array<[number, string, KubeObject[]]> = [
      [10, '10-configmaps.yaml', cms],
      [10, '10-secrets.yaml', secrets],
      [20, '20-services.yaml', services],
      [30, '30-deployments.yaml', deployments],
      [40, '40-jobs.yaml', jobs],
    ];
    const namespaceFile = `${folder}/00-namespace.yaml`;
    files[namespaceFile] = yamlDocs([namespace]);
    const steps: WorkloadStep[] = [];
    for (const [number, file, objs] of stepFiles) {
      if (objs.length === 0) continue;
      files[`${folder}/${file}`] = yamlDocs(objs);
      const step = steps.find((s) => s.number === number) ?? steps[steps.push({ number, files: [] }) - 1]!;
      step.files.push(`${folder}/${file}`);
      rest.push(...objs);
    }
    namespaces.push(namespace);
    waves.push({ number: w, folder, namespace: ns, namespaceFile, steps });
  }
  return {
    files,
    waves,
    objects: [...namespaces, ...rest],
    namespaces: namespaces.map((n) => n.metadata.name),
    probe: probe!,
  };
}
