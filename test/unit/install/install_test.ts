import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { installObjects } from '../../../src/install/manifests.js';
import { renderInstallYaml } from '../../../src/install/yaml.js';
import { dorisNodeFlags } from '../../../src/install/nodeflags.js';

describe('install manifests', () => {
  it('config/install.yaml is what src/install/manifests.ts generates (run npm run manifests)', () => {
    const committed = readFileSync(new URL('../../../config/install.yaml', import.meta.url), 'utf8');
    assert.equal(committed, renderInstallYaml());
  });

  it('parses back to the same objects', () => {
    const docs = parseAllDocuments(renderInstallYaml()).map((d) => d.toJS());
    assert.deepEqual(docs, JSON.parse(JSON.stringify(installObjects())));
  });

  it('runs the controller as non-root with a read-only root filesystem, probes and requests', () => {
    const deployment = installObjects().find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { securityContext: { runAsNonRoot: boolean }; containers: Array<Record<string, any>> } } };
    };
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const container = pod.containers[0]!;
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.ok(container.readinessProbe && container.livenessProbe);
    assert.ok(container.resources.requests.memory);
  });

  it('lets the controller read Secrets only in its own namespace', () => {
    const objects = installObjects();
    const clusterRules = objects
      .filter((o) => o.kind === 'ClusterRole')
      .flatMap((o) => (o as unknown as { rules: Array<{ resources: string[]; verbs: string[] }> }).rules);
    const secretRules = clusterRules.filter((r) => r.resources.includes('secrets'));
    assert.ok(secretRules.length > 0);
    for (const rule of secretRules) for (const verb of ['get', 'list', 'watch']) assert.ok(!rule.verbs.includes(verb), `ClusterRole may ${verb} secrets`);
    const role = objects.find((o) => o.kind === 'Role') as unknown as { metadata: { namespace: string }; rules: Array<{ resources: string[]; verbs: string[] }> };
    assert.equal(role.metadata.namespace, 'doris-system');
    assert.ok(role.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('get')));
  });

  it('the image runs node with the flags the benchmark measured', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? '';
    for (const flag of dorisNodeFlags) assert.ok((JSON.parse(entrypoint) as string[]).includes(flag), flag);
  });
});
