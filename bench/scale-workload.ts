/**
 * The repository of one of the many small Pipelines of `npm run bench -- scale`: its own
 * Namespace (named like the Pipeline), then two waves — config (ConfigMaps and Secrets),
 * then apps (Services and Deployments, a tenth of the objects each). Fewer Deployments than
 * the growth curve's mix: a hundred Pipelines are a thousand Deployments already, and the
 * point here is the controller, not the cluster's rollouts.
 *
 *     deploy/1-config/00-namespace.yaml
 *                     10-configmaps.yaml   the last ConfigMap is the probe (its REVISION)
 *                     10-secrets.yaml
 *     deploy/2-apps/20-services.yaml
 *                   30-deployments.yaml
 */
import { stringify } from 'yaml';
import type { KubeObject } from '../src/render/types.js';
import { benchLabel } from './workload.js';

const docs = (objects: KubeObject[]) => objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');

export function pipelineWorkload(
  name: string,
  objects: number,
  run: string,
  revision: number,
): { files: Record<string, string>; probe: { file: string; namespace: string; name: string } } {
  const ns = name;
  const apps = Math.max(1, Math.round(objects / 10));
  const rest = objects - 1 - 2 * apps;
  const configMaps = Math.ceil(rest / 2);
  const secrets = Math.floor(rest / 2);
  const cms: KubeObject[] = Array.from({ length: configMaps }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `config-${i}`, namespace: ns, labels: { app: 'bench' } },
    data: { LISTEN_PORT: '8080', REVISION: i === configMaps - 1 ? String(revision) : '1' },
  }));
  const scs: KubeObject[] = Array.from({ length: secrets }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `secret-${i}`, namespace: ns, labels: { app: 'bench' } },
    type: 'Opaque',
    data: { password: Buffer.from(`not-a-real-password-${i}`).toString('base64') },
  }));
  const deployments: KubeObject[] = Array.from({ length: apps }, (_, i) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `app-${i}`, namespace: ns, labels: { app: `app-${i}` } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: `app-${i}` } },
      template: {
        metadata: { labels: { app: `app-${i}` } },
        spec: {
          containers: [{ name: 'main', image: `registry.example/bench/app-${i}:1.0.0`, envFrom: [{ configMapRef: { name: `config-${i % configMaps}` } }] }],
        },
      },
    },
  }));
  const services: KubeObject[] = deployments.map((d) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: d.metadata.name, namespace: ns },
    spec: { selector: { app: d.metadata.name }, ports: [{ port: 80, targetPort: 8080 }] },
  }));
  const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [benchLabel]: run } } };
  const files = {
    'deploy/1-config/00-namespace.yaml': docs([namespace]),
    'deploy/1-config/10-configmaps.yaml': docs(cms),
    'deploy/1-config/10-secrets.yaml': docs(scs),
    'deploy/2-apps/20-services.yaml': docs(services),
    'deploy/2-apps/30-deployments.yaml': docs(deployments),
  };
  return { files, probe: { file: 'deploy/1-config/10-configmaps.yaml', namespace: ns, name: `config-${configMaps - 1}` } };
}
