import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configHashAnnotation, configReferences, stampConfigHashes, type ConfigLookup } from '../../../src/render/confighash.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';
import { byName, loadFixture } from './fixture.js';

const noCluster: ConfigLookup = async () => undefined;

function hashOf(objects: DesiredObject[], kind: string, name: string): string | undefined {
  const object = byName(objects, kind, name);
  const template =
    kind === 'CronJob'
      ? (object.spec as { jobTemplate: { spec: { template: { metadata?: { annotations?: Record<string, string> } } } } }).jobTemplate.spec.template
      : kind === 'Pod'
        ? object
        : (object.spec as { template: { metadata?: { annotations?: Record<string, string> } } }).template;
  return template.metadata?.annotations?.[configHashAnnotation];
}

function withData(objects: DesiredObject[], kind: string, name: string, change: (object: KubeObject) => void): DesiredObject[] {
  return objects.map((d) => {
    if (d.object.kind !== kind || d.object.metadata.name !== name) return d;
    const object = structuredClone(d.object);
    change(object);
    return { ...d, object };
  });
}

const workloads: Array<[string, string]> = [
  ['Deployment', 'mounts-settings'],
  ['Deployment', 'env-from-settings'],
  ['StatefulSet', 'secret-env'],
  ['DaemonSet', 'projected'],
  ['CronJob', 'report'],
];

describe('stampConfigHashes', () => {
  it('annotates the pod template of every workload that references a ConfigMap or Secret', async () => {
    const out = await stampConfigHashes(loadFixture('config.yaml'), noCluster, 'default');
    for (const [kind, name] of workloads) assert.match(hashOf(out, kind, name) ?? '', /^[0-9a-f]{32}$/, `${kind} ${name}`);
  });

  it('leaves a workload that references nothing untouched (same object)', async () => {
    const input = loadFixture('config.yaml');
    const out = await stampConfigHashes(input, noCluster, 'default');
    const index = input.findIndex((d) => d.object.metadata.name === 'references-nothing');
    assert.equal(out[index], input[index]);
  });

  it('leaves bare Pods and ConfigMaps untouched', async () => {
    const input = loadFixture('config.yaml');
    const out = await stampConfigHashes(input, noCluster, 'default');
    for (const name of ['bare-pod', 'settings', 'credentials']) {
      const index = input.findIndex((d) => d.object.metadata.name === name);
      assert.equal(out[index], input[index], name);
    }
  });

  it('never modifies its input', async () => {
    const input = loadFixture('config.yaml');
    const before = structuredClone(input);
    await stampConfigHashes(input, noCluster, 'default');
    assert.deepEqual(input, before);
  });

  it('keeps the hash when the same data comes with its keys in another order', async () => {
    const input = loadFixture('config.yaml');
    const reordered = withData(input, 'ConfigMap', 'settings', (o) => {
      o.data = { mode: 'fast', '2': 'two', '10': 'ten' };
    });
    const reversed = withData(input, 'ConfigMap', 'settings', (o) => {
      const data = o.data as Record<string, string>;
      o.data = Object.fromEntries(Object.entries(data).reverse());
    });
    const [a, b, c] = await Promise.all([input, reordered, reversed].map((objects) => stampConfigHashes(objects, noCluster, 'default')));
    assert.equal(hashOf(a!, 'Deployment', 'mounts-settings'), hashOf(b!, 'Deployment', 'mounts-settings'));
    assert.equal(hashOf(a!, 'Deployment', 'mounts-settings'), hashOf(c!, 'Deployment', 'mounts-settings'));
  });

  it('changes the hash of exactly the workloads that use a ConfigMap when its data changes', async () => {
    const input = loadFixture('config.yaml');
    const changed = withData(input, 'ConfigMap', 'settings', (o) => {
      (o.data as Record<string, string>).mode = 'slow';
    });
    const [before, after] = await Promise.all([stampConfigHashes(input, noCluster, 'default'), stampConfigHashes(changed, noCluster, 'default')]);
    for (const [kind, name] of [
      ['Deployment', 'mounts-settings'],
      ['Deployment', 'env-from-settings'],
      ['DaemonSet', 'projected'],
      ['CronJob', 'report'],
    ] as const) {
      assert.notEqual(hashOf(before, kind, name), hashOf(after, kind, name), `${kind} ${name} rolls`);
    }
    assert.equal(hashOf(before, 'StatefulSet', 'secret-env'), hashOf(after, 'StatefulSet', 'secret-env'), 'the Secret-only workload stays');
  });

  it('changes the hash of the workloads that use a Secret through env valueFrom or a projected volume', async () => {
    const input = loadFixture('config.yaml');
    const changed = withData(input, 'Secret', 'credentials', (o) => {
      o.stringData = { password: 'correct-horse-battery' };
    });
    const [before, after] = await Promise.all([stampConfigHashes(input, noCluster, 'default'), stampConfigHashes(changed, noCluster, 'default')]);
    assert.notEqual(hashOf(before, 'StatefulSet', 'secret-env'), hashOf(after, 'StatefulSet', 'secret-env'));
    assert.notEqual(hashOf(before, 'DaemonSet', 'projected'), hashOf(after, 'DaemonSet', 'projected'));
    assert.equal(hashOf(before, 'Deployment', 'mounts-settings'), hashOf(after, 'Deployment', 'mounts-settings'));
  });

  it('never puts Secret values in the objects it returns', async () => {
    const out = await stampConfigHashes(loadFixture('config.yaml'), noCluster, 'default');
    const workloadsOnly = out.filter((d) => d.object.kind !== 'Secret');
    assert.ok(!JSON.stringify(workloadsOnly).includes('hunter2'));
  });

  it('looks up in the cluster what the repository does not hold, once per object', async () => {
    const calls: string[] = [];
    let data = { url: 'http://influx:8086' };
    const lookup: ConfigLookup = async (kind, namespace, name) => {
      calls.push(`${kind} ${namespace}/${name}`);
      return name === 'installed' ? { apiVersion: 'v1', kind, metadata: { name, namespace }, data } : undefined;
    };
    const deployment = (name: string): DesiredObject => ({
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: { template: { spec: { containers: [{ name: 'a', image: 'x', envFrom: [{ configMapRef: { name: 'installed' } }] }] } } },
      },
      wave: 1,
      waveName: '1-a',
      step: 1,
      source: { file: 'f.yaml', line: 1, col: 1 },
    });
    const first = await stampConfigHashes([deployment('one'), deployment('two')], lookup, 'apps');
    assert.deepEqual(calls, ['ConfigMap apps/installed']);
    data = { url: 'http://influx:9999' };
    const second = await stampConfigHashes([deployment('one')], lookup, 'apps');
    assert.ok(hashOf(first, 'Deployment', 'one'));
    assert.equal(hashOf(first, 'Deployment', 'one'), hashOf(first, 'Deployment', 'two'));
    assert.notEqual(hashOf(first, 'Deployment', 'one'), hashOf(second, 'Deployment', 'one'));
  });

  it('prefers the repository object over the cluster and matches it by namespace', async () => {
    const input = loadFixture('config.yaml').filter((d) => ['settings', 'mounts-settings'].includes(d.object.metadata.name));
    const asked: string[] = [];
    await stampConfigHashes(
      input,
      async (kind, ns, name) => {
        asked.push(`${kind} ${ns}/${name}`);
        return undefined;
      },
      'default',
    );
    assert.deepEqual(asked, []);
    const elsewhere = input.map((d) =>
      d.object.kind === 'ConfigMap' ? { ...d, object: { ...d.object, metadata: { ...d.object.metadata, namespace: 'other' } } } : d,
    );
    const askedElsewhere: string[] = [];
    await stampConfigHashes(
      elsewhere,
      async (kind, ns, name) => {
        askedElsewhere.push(`${kind} ${ns}/${name}`);
        return undefined;
      },
      'default',
    );
    assert.deepEqual(askedElsewhere, ['ConfigMap monitoring/settings']);
  });

  it('takes objects without a namespace to be in the default namespace', async () => {
    const input = loadFixture('config.yaml')
      .filter((d) => ['settings', 'mounts-settings'].includes(d.object.metadata.name))
      .map((d) => ({ ...d, object: { ...d.object, metadata: { ...d.object.metadata, namespace: undefined } } }));
    const asked: string[] = [];
    const out = await stampConfigHashes(
      input,
      async (kind, ns, name) => {
        asked.push(`${kind} ${ns}/${name}`);
        return undefined;
      },
      'target',
    );
    assert.deepEqual(asked, []);
    assert.ok(hashOf(out, 'Deployment', 'mounts-settings'));
  });

  it('skips a missing optional reference, and gives no annotation when nothing else is referenced', async () => {
    const optionalOnly: DesiredObject = {
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'opt', namespace: 'ns' },
        spec: { template: { spec: { containers: [{ name: 'a', image: 'x', envFrom: [{ secretRef: { name: 'maybe', optional: true } }] }] } } },
      },
      wave: 1,
      waveName: '1-a',
      step: 1,
      source: { file: 'f.yaml', line: 1, col: 1 },
    };
    const [out] = await stampConfigHashes([optionalOnly], noCluster, 'default');
    assert.equal(out, optionalOnly);
    // Once it exists, it counts: the workload rolls.
    const [created] = await stampConfigHashes(
      [optionalOnly],
      async (kind, namespace, name) => ({ apiVersion: 'v1', kind, metadata: { name, namespace }, data: { k: 'dg==' } }),
      'default',
    );
    assert.ok(hashOf([created!], 'Deployment', 'opt'));
  });

  it('counts a missing required reference, so that its creation rolls the workload', async () => {
    const required: DesiredObject = {
      object: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'req', namespace: 'ns' },
        spec: { template: { spec: { volumes: [{ name: 'v', secret: { secretName: 'later' } }], containers: [{ name: 'a', image: 'x' }] } } },
      },
      wave: 1,
      waveName: '1-a',
      step: 1,
      source: { file: 'f.yaml', line: 1, col: 1 },
    };
    const [missing] = await stampConfigHashes([required], noCluster, 'default');
    const [present] = await stampConfigHashes(
      [required],
      async (kind, namespace, name) => ({ apiVersion: 'v1', kind, metadata: { name, namespace }, data: {} }),
      'default',
    );
    assert.ok(hashOf([missing!], 'Job', 'req'));
    assert.notEqual(hashOf([missing!], 'Job', 'req'), hashOf([present!], 'Job', 'req'));
  });

  it('keeps the annotations the template already has', async () => {
    const input = withData(loadFixture('config.yaml'), 'Deployment', 'mounts-settings', (o) => {
      (o.spec as { template: { metadata: Record<string, unknown> } }).template.metadata.annotations = { keep: 'me' };
    });
    const out = await stampConfigHashes(input, noCluster, 'default');
    const annotations = (byName(out, 'Deployment', 'mounts-settings').spec as { template: { metadata: { annotations: Record<string, string> } } }).template
      .metadata.annotations;
    assert.deepEqual(Object.keys(annotations).sort(), [configHashAnnotation, 'keep']);
  });
});

describe('configReferences', () => {
  it('finds volumes, projected sources, env key refs and envFrom in containers and initContainers', () => {
    const refs = configReferences({
      volumes: [
        { name: 'a', configMap: { name: 'vol-cm' } },
        { name: 'b', secret: { secretName: 'vol-secret' } },
        { name: 'c', projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }, { downwardAPI: {} }] } },
        { name: 'd', emptyDir: {} },
      ],
      initContainers: [{ name: 'i', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'init-cm', key: 'k' } } }] }],
      containers: [
        {
          name: 'c',
          env: [
            { name: 'Y', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } },
            { name: 'Z', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          envFrom: [{ configMapRef: { name: 'from-cm' } }, { secretRef: { name: 'from-secret', optional: true } }],
        },
      ],
    });
    assert.deepEqual(refs, [
      { kind: 'ConfigMap', name: 'from-cm', optional: false },
      { kind: 'ConfigMap', name: 'init-cm', optional: false },
      { kind: 'ConfigMap', name: 'proj-cm', optional: false },
      { kind: 'ConfigMap', name: 'vol-cm', optional: false },
      { kind: 'Secret', name: 'env-secret', optional: false },
      { kind: 'Secret', name: 'from-secret', optional: true },
      { kind: 'Secret', name: 'proj-secret', optional: false },
      { kind: 'Secret', name: 'vol-secret', optional: false },
    ]);
  });

  it('treats an object referenced both optionally and not as required', () => {
    const refs = configReferences({
      containers: [{ name: 'c', envFrom: [{ configMapRef: { name: 'x', optional: true } }, { configMapRef: { name: 'x' } }] }],
    });
    assert.deepEqual(refs, [{ kind: 'ConfigMap', name: 'x', optional: false }]);
  });

  it('finds nothing in a spec without references or without a spec', () => {
    assert.deepEqual(configReferences({ containers: [{ name: 'c', image: 'x' }] }), []);
    assert.deepEqual(configReferences(undefined), []);
  });
});
