import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { installObjects, protectedObjectIds } from '../../../src/install/manifests.js';
import { objectId, parseObjectId } from '../../../src/kube/objectid.js';
import type { KubeObject } from '../../../src/render/types.js';
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
      spec: {
        template: {
          spec: {
            securityContext: { runAsNonRoot: boolean };
            containers: Array<{
              securityContext: Record<string, unknown>;
              readinessProbe?: unknown;
              livenessProbe?: unknown;
              resources: { requests: Record<string, string> };
            }>;
          };
        };
      };
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
    const role = objects.find((o) => o.kind === 'Role') as unknown as {
      metadata: { namespace: string };
      rules: Array<{ resources: string[]; verbs: string[] }>;
    };
    assert.equal(role.metadata.namespace, 'doris-system');
    assert.ok(role.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('get')));
  });

  it('the image runs node with the flags the benchmark measured', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? '';
    for (const flag of dorisNodeFlags) assert.ok((JSON.parse(entrypoint) as string[]).includes(flag), flag);
  });

  it('names cluster-scoped objects per install, so two installs share only the CRD', () => {
    const clusterScoped = (objects: KubeObject[]) => objects.filter((o) => o.metadata.namespace === undefined && o.kind !== 'Namespace');
    const a = clusterScoped(installObjects({ namespace: 'team-a' }));
    const b = clusterScoped(installObjects({ namespace: 'team-b' }));
    assert.deepEqual(
      a.map((o) => `${o.kind} ${o.metadata.name}`),
      [
        'CustomResourceDefinition pipelines.doris.dev',
        'ClusterRole doris-controller-team-a',
        'ClusterRole doris-custom-kinds-team-a',
        'ClusterRoleBinding doris-controller-team-a',
        'ClusterRoleBinding doris-custom-kinds-team-a',
      ],
    );
    const shared = a.filter((x) => b.some((y) => y.kind === x.kind && y.metadata.name === x.metadata.name));
    assert.deepEqual(
      shared.map((o) => o.kind),
      ['CustomResourceDefinition'],
    );
    assert.deepEqual(
      a.find((o) => o.kind === 'CustomResourceDefinition'),
      b.find((o) => o.kind === 'CustomResourceDefinition'),
      'every install applies the same CRD',
    );
  });

  it("binds each install's roles to its own ServiceAccount only", () => {
    for (const namespace of ['doris-system', 'team-b']) {
      const objects = installObjects({ namespace });
      const roles = new Set(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name));
      const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as unknown as Array<{
        kind: string;
        metadata: { name: string };
        roleRef: { kind: string; name: string };
        subjects: Array<{ kind: string; name: string; namespace: string }>;
      }>;
      assert.equal(bindings.length, 3);
      for (const binding of bindings) {
        assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'doris', namespace }], `${binding.kind} ${binding.metadata.name}`);
        if (binding.kind === 'ClusterRoleBinding') {
          assert.ok(roles.has(binding.roleRef.name), `${binding.metadata.name} refers to a ClusterRole of this install`);
          assert.ok(binding.roleRef.name.endsWith(`-${namespace}`));
        }
      }
    }
  });

  it('the default install is the doris-system one of config/install.yaml', () => {
    assert.deepEqual(installObjects(), installObjects({ namespace: 'doris-system' }));
    assert.match(renderInstallYaml(), /^ {2}name: doris-controller-doris-system$/m);
  });

  it('protectedObjectIds lists every object of the install, as inventory ids', () => {
    const ids = protectedObjectIds('team-a');
    assert.deepEqual(ids, [
      '_team-a__Namespace',
      '_pipelines.doris.dev_apiextensions.k8s.io_CustomResourceDefinition',
      'team-a_doris__ServiceAccount',
      '_doris-controller-team-a_rbac.authorization.k8s.io_ClusterRole',
      '_doris-custom-kinds-team-a_rbac.authorization.k8s.io_ClusterRole',
      '_doris-controller-team-a_rbac.authorization.k8s.io_ClusterRoleBinding',
      '_doris-custom-kinds-team-a_rbac.authorization.k8s.io_ClusterRoleBinding',
      'team-a_doris-controller_rbac.authorization.k8s.io_Role',
      'team-a_doris-controller_rbac.authorization.k8s.io_RoleBinding',
      'team-a_doris_apps_Deployment',
      'team-a_doris__Service',
    ]);
    for (const id of ids) assert.ok(parseObjectId(id), `${id} splits back`);
    // The ids prune computes for the same objects when a repository holds them (self-update).
    assert.deepEqual(new Set(ids), new Set(installObjects({ namespace: 'team-a', image: 'other:1' }).map((o) => objectId(o))));
    assert.ok(!ids.some((id) => id.includes('team-b')));
    assert.deepEqual(
      protectedObjectIds('doris-system').filter((id) => !protectedObjectIds('team-a').includes(id)).length,
      ids.length - 1,
      'only the CRD is common',
    );
  });
});
