import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderRepo } from '../../../src/render/layout.js';
import { compareDesired, isClusterScopedKind, kindRank, planStages } from '../../../src/render/order.js';
import type { DesiredObject, Wave } from '../../../src/render/types.js';

const testdata = fileURLToPath(new URL('../../../testdata/render/', import.meta.url));

/** A small seeded PRNG (mulberry32), so that a failing shuffle can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `wave/step/Kind/namespace/name`, with `apiVersion` when it is not v1. */
function desired(spec: string, apiVersion = 'v1'): DesiredObject {
  const [wave, step, kind, namespace, name] = spec.split('/') as [string, string, string, string, string];
  return {
    object: { apiVersion, kind, metadata: namespace ? { name, namespace } : { name } },
    wave: Number(wave),
    waveName: `${wave}-w`,
    step: Number(step),
    source: { file: `deploy/${wave}-w/${step}-f.yml`, line: 1, col: 1 },
  };
}

const label = (d: DesiredObject): string => `${d.wave}/${d.step}/${d.object.kind}/${d.object.metadata.namespace ?? ''}/${d.object.metadata.name}`;

describe('compareDesired', () => {
  const expected = [
    '1/10/Namespace//apps',
    '1/10/CustomResourceDefinition//widgets.example.com',
    '1/10/ResourceQuota/apps/quota',
    '1/10/ServiceAccount/apps/web',
    '1/10/Secret/apps/tls',
    '1/10/ConfigMap/apps/a',
    '1/10/ConfigMap/apps/b',
    '1/10/ConfigMap/other/a',
    '1/10/PersistentVolumeClaim/apps/data',
    '1/10/ClusterRole//reader',
    '1/10/RoleBinding/apps/reader',
    '1/10/Service/apps/web',
    '1/10/Deployment/apps/web',
    '1/10/StatefulSet/apps/db',
    '1/10/Job/apps/migrate',
    '1/10/Ingress/apps/web',
    '1/10/APIService//v1.metrics.k8s.io',
    '1/10/Certificate/apps/web',
    '1/10/Widget/apps/blue',
    '1/10/Widget/apps/green',
    '1/20/Namespace//late',
    '1/100/ConfigMap/apps/c',
    '2/5/ConfigMap/apps/d',
    '10/1/Namespace//last',
  ];

  it('sorts by wave, step, kind rank, namespace and name, whatever the input order', () => {
    const objects = expected.map((spec) => desired(spec));
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const sorted = shuffle(objects, next).sort(compareDesired);
      assert.deepEqual(sorted.map(label), expected, `round ${round}`);
    }
  });

  it('runs wave 2 before wave 10 and step 9 before step 10, not as strings', () => {
    const objects = ['10/1/ConfigMap/a/x', '2/1/ConfigMap/a/x', '2/10/ConfigMap/a/x', '2/9/ConfigMap/a/x'].map((s) => desired(s));
    assert.deepEqual(objects.sort(compareDesired).map(label), ['2/1/ConfigMap/a/x', '2/9/ConfigMap/a/x', '2/10/ConfigMap/a/x', '10/1/ConfigMap/a/x']);
  });

  it('orders objects that differ only in apiVersion or source deterministically', () => {
    const a = desired('1/1/Widget/a/x', 'example.com/v1');
    const b = desired('1/1/Widget/a/x', 'example.com/v2');
    const c = { ...desired('1/1/Widget/a/x', 'example.com/v2'), source: { file: 'deploy/1-w/1-g.yml', line: 1, col: 1 } };
    assert.ok(compareDesired(a, b) < 0 && compareDesired(b, a) > 0);
    assert.ok(compareDesired(b, c) < 0 && compareDesired(c, b) > 0);
    assert.equal(compareDesired(a, a), 0);
  });

  it('ranks Namespaces and CRDs first and unknown kinds last', () => {
    assert.equal(kindRank('Namespace'), 0);
    assert.equal(kindRank('CustomResourceDefinition'), 1);
    assert.ok(kindRank('Service') < kindRank('Deployment'));
    assert.ok(kindRank('APIService') < kindRank('Widget'));
    assert.equal(kindRank('Widget'), kindRank('Certificate'));
  });
});

describe('planStages', () => {
  it('hoists Namespaces and CRDs from every wave into a prelude, and marks the last stage of each wave', async () => {
    const repo = await renderRepo(join(testdata, 'prelude'), 'deploy');
    const stages = planStages(repo.waves);
    assert.deepEqual(
      stages.map((s) => [s.label, s.kind === 'step' ? s.lastOfWave : null, s.objects.map(label)]),
      [
        ['prelude (namespaces, CRDs)', null, ['3/10/Namespace//apps', '3/50/CustomResourceDefinition//widgets.example.com', '5/10/Namespace//extra']],
        ['wave 1-app step 170', false, ['1/170/Deployment/apps/web']],
        ['wave 1-app step 200', true, ['1/200/Widget/apps/blue']],
        ['wave 3-platform step 170', true, ['3/170/Deployment/apps/widget-operator']],
      ],
    );
    const step = stages[1]!;
    assert.ok(step.kind === 'step');
    assert.deepEqual([step.wave, step.waveName, step.step], [1, '1-app', 170]);
  });

  it('omits the prelude and empty steps, and sorts the objects of a step', () => {
    const wave = (number: number, steps: [number, DesiredObject[]][]): Wave => ({
      number,
      name: `${number}-w`,
      dir: `deploy/${number}-w`,
      steps: steps.map(([n, objects]) => ({ number: n, files: [], objects })),
    });
    const stages = planStages([
      wave(10, [[1, [desired('10/1/ConfigMap/a/x')]]]),
      wave(2, [
        [5, []],
        [7, [desired('2/7/Deployment/a/web'), desired('2/7/Service/a/web'), desired('2/7/ConfigMap/a/web')]],
      ]),
    ]);
    assert.deepEqual(
      stages.map((s) => [s.label, s.objects.map(label)]),
      [
        ['wave 2-w step 7', ['2/7/ConfigMap/a/web', '2/7/Service/a/web', '2/7/Deployment/a/web']],
        ['wave 10-w step 1', ['10/1/ConfigMap/a/x']],
      ],
    );
    assert.deepEqual(planStages([]), []);
  });

  it('hoists only the core Namespace and the apiextensions CRD, not look-alike kinds', () => {
    const lookalikes = [desired('1/1/Namespace//tenant', 'example.com/v1'), desired('1/1/CustomResourceDefinition//x', 'example.com/v1')];
    const stages = planStages([{ number: 1, name: '1-w', dir: 'deploy/1-w', steps: [{ number: 1, files: [], objects: lookalikes }] }]);
    assert.deepEqual(
      stages.map((s) => s.kind),
      ['step'],
    );
  });
});

describe('isClusterScopedKind', () => {
  it('knows the built-in cluster-scoped kinds', () => {
    for (const [apiVersion, kind] of [
      ['v1', 'Namespace'],
      ['v1', 'Node'],
      ['v1', 'PersistentVolume'],
      ['storage.k8s.io/v1', 'StorageClass'],
      ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
      ['scheduling.k8s.io/v1', 'PriorityClass'],
      ['networking.k8s.io/v1', 'IngressClass'],
      ['apiregistration.k8s.io/v1', 'APIService'],
      ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
      ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration'],
      ['storage.k8s.io/v1', 'CSIDriver'],
      ['node.k8s.io/v1', 'RuntimeClass'],
      ['storage.k8s.io/v1', 'VolumeAttachment'],
    ] as const) {
      assert.equal(isClusterScopedKind(apiVersion, kind), true, `${apiVersion} ${kind}`);
    }
  });

  it('knows the built-in namespaced kinds', () => {
    for (const [apiVersion, kind] of [
      ['v1', 'ConfigMap'],
      ['v1', 'Secret'],
      ['apps/v1', 'Deployment'],
      ['batch/v1', 'CronJob'],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
      ['networking.k8s.io/v1', 'Ingress'],
      ['policy/v1', 'PodDisruptionBudget'],
    ] as const) {
      assert.equal(isClusterScopedKind(apiVersion, kind), false, `${apiVersion} ${kind}`);
    }
  });

  it('does not guess for custom resources or kinds in the wrong group', () => {
    assert.equal(isClusterScopedKind('example.com/v1', 'Widget'), undefined);
    assert.equal(isClusterScopedKind('example.com/v1', 'Namespace'), undefined);
    assert.equal(isClusterScopedKind('apps/v1', 'ConfigMap'), undefined);
  });
});
