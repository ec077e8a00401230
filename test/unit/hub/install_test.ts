/**
 * What `doris hub install` applies (plain data): config/hub.yaml is what src/hub/install.ts
 * renders, the Deployment runs `doris hub` with the image's node flags, probes, resources and
 * preferred anti-affinity, and TLS or plain HTTP is chosen by --tls-secret.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { defaultHubNamespace, hubInstallObjects, hubYamlHeader, renderHubInstallYaml } from '../../../src/hub/install.js';
import { hubNodeFlags } from '../../../src/install/nodeflags.js';
import type { KubeObject } from '../../../src/kube/object.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const runCli = (args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

interface Container {
  command: string[];
  args: string[];
  image: string;
  readinessProbe: { httpGet: { path: string; scheme: string } };
  livenessProbe: { httpGet: { path: string; scheme: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}

function deployment(objects: KubeObject[]) {
  const d = objects.find((o) => o.kind === 'Deployment') as unknown as {
    spec: { replicas: number; template: { spec: { serviceAccountName: string; affinity: unknown; containers: Container[] } } };
  };
  return { replicas: d.spec.replicas, pod: d.spec.template.spec, container: d.spec.template.spec.containers[0]! };
}

describe('hub install', () => {
  it('config/hub.yaml is what npm run manifests renders (edit src/hub/install.ts, then run it)', () => {
    const file = readFileSync(join(root, 'config', 'hub.yaml'), 'utf8');
    assert.equal(file, renderHubInstallYaml({ namespace: defaultHubNamespace }, hubYamlHeader));
    const kinds = parseAllDocuments(file).map((d) => (d.toJS() as KubeObject).kind);
    assert.deepEqual(kinds, ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service']);
  });

  it('runs doris hub under its ServiceAccount, 2 replicas spread over nodes, with the image node flags, probes and resources', () => {
    const { replicas, pod, container } = deployment(hubInstallObjects({ namespace: 'fleet-hub' }));
    assert.equal(replicas, 2);
    assert.equal(pod.serviceAccountName, 'doris-hub');
    assert.match(JSON.stringify(pod.affinity), /preferredDuringSchedulingIgnoredDuringExecution.*kubernetes\.io\/hostname/);
    assert.deepEqual(container.command.slice(1, -1), hubNodeFlags);
    // The same script the image's ENTRYPOINT runs: the bundle (docs/adr/0016-one-bundle.md).
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1] ?? '[]') as string[];
    assert.equal(container.command.at(-1), '/app/dist/doris.mjs');
    assert.equal(container.command.at(-1), entrypoint.at(-1));
    assert.deepEqual(container.args.slice(0, 5), ['hub', '--namespace', 'fleet-hub', '--listen', ':8443']);
    assert.ok(container.args.includes('--insecure-http'), 'no TLS Secret: plain HTTP behind an ingress');
    assert.deepEqual([container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path], ['/readyz', '/healthz']);
    assert.ok(container.resources.requests.memory && container.resources.limits.memory);
  });

  it('serves HTTPS with --tls-secret; image and replicas as given', () => {
    const { replicas, container } = deployment(hubInstallObjects({ namespace: 'h', image: 'registry.example/doris:9', replicas: 3, tlsSecret: 'hub-tls' }));
    assert.equal(replicas, 3);
    assert.equal(container.image, 'registry.example/doris:9');
    assert.deepEqual(container.args.slice(-2), ['--tls-secret', 'hub-tls']);
    assert.equal(container.args.includes('--insecure-http'), false);
    assert.equal(container.readinessProbe.httpGet.scheme, 'HTTPS');
  });

  it('refuses hostile flags with a usage error (exit 2) naming the flag', () => {
    for (const [args, message] of [
      [['--namespace', 'Bad_NS'], /--namespace "Bad_NS" is not a valid namespace name/],
      [['--namespace', 'h', '--tls-secret', '../x'], /--tls-secret "\.\.\/x" is not a valid Secret name/],
      [['--namespace', 'h', '--image', 'a b'], /--image "a b" is not an image reference/],
      [['--namespace', 'h', '--replicas', '0'], /--replicas/],
    ] as const) {
      const result = runCli(['hub', 'install', ...args, '--dry-run']);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const ok = runCli(['hub', 'install', '--namespace', 'h', '--dry-run', '--tls-secret', 'hub-tls']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /- --tls-secret\n\s+- hub-tls/);
  });
});
