import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { prune, type PruneOptions } from '../../../src/prune/prune.js';
import { objectId } from '../../../src/kube/objectid.js';
import { stampOwnership } from '../../../src/render/stamp.js';
import type { KubeObject } from '../../../src/render/types.js';
import { FakeKube } from '../../fake/kube.js';

const options = (extra: Partial<PruneOptions> = {}): PruneOptions => ({ pipeline: 'main', protectedIds: new Set(), crds: false, concurrency: 4, ...extra });

const cm = (name: string, annotations?: Record<string, string>): KubeObject =>
  stampOwnership({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'apps', ...(annotations ? { annotations } : {}) } }, 'main');

const entryOf = (object: KubeObject, wave = 1, extra: Partial<InventoryEntry> = {}): InventoryEntry => ({
  id: objectId(object),
  v: object.apiVersion,
  wave,
  ...extra,
});

describe('prune', () => {
  it('deletes an owned object with its uid as a precondition', async () => {
    const kube = new FakeKube();
    const stored = kube.seed(cm('old'));
    const result = await prune(kube, [entryOf(stored)], options());
    assert.equal(result.pruned.length, 1);
    assert.equal(kube.objects.size, 0);
  });

  it('keeps objects annotated doris.dev/prune: disabled and objects of another Pipeline', async () => {
    const kube = new FakeKube();
    const kept = kube.seed(cm('kept', { 'doris.dev/prune': 'disabled' }));
    const theirs = kube.seed(stampOwnership({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'theirs', namespace: 'apps' } }, 'other'));
    const result = await prune(kube, [entryOf(kept), entryOf(theirs)], options());
    assert.equal(result.skipped.length, 2);
    assert.equal(kube.objects.size, 2);
    assert.deepEqual(kube.writes(), []);
  });

  it('never prunes a CustomResourceDefinition unless the Pipeline opts in', async () => {
    const kube = new FakeKube();
    const crd = kube.seed(
      stampOwnership({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'pipelines.doris.dev' } }, 'main'),
    );
    const refused = await prune(kube, [entryOf(crd)], options());
    assert.match(refused.skipped[0]?.reason ?? '', /spec\.prune\.crds/);
    assert.equal(kube.objects.size, 1);
    const allowed = await prune(kube, [entryOf(crd)], options({ crds: true }));
    assert.equal(allowed.pruned.length, 1);
  });

  it("never prunes DORIS's own objects", async () => {
    const kube = new FakeKube();
    const ns = kube.seed(stampOwnership({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doris-system' } }, 'main'));
    const result = await prune(kube, [entryOf(ns)], options({ protectedIds: new Set([objectId(ns)]) }));
    assert.match(result.skipped[0]?.reason ?? '', /DORIS installation/);
    assert.deepEqual(kube.writes(), []);
  });

  it('drops entries whose kind is no longer served, so a typo never wedges the Pipeline', async () => {
    const kube = new FakeKube();
    const result = await prune(kube, [{ id: 'apps_w_acme.io_Wigdet', v: 'acme.io/v1', wave: 2 }], options());
    assert.equal(result.pruned.length, 1);
    assert.equal(result.failed.length, 0);
  });

  it('finds an object recorded under a version no longer served in the version that is (a beta API an upgrade removed)', async () => {
    const kube = new FakeKube();
    const stored = kube.seed(stampOwnership({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'apps' } }, 'main'));
    const result = await prune(kube, [{ ...entryOf(stored), v: 'apps/v1beta2' }], options());
    assert.deepEqual(
      result.pruned.map((e) => e.v),
      ['apps/v1'],
    );
    assert.equal(kube.objects.size, 0, 'the object was left running and dropped from the inventory');
  });

  it('drops entries whose name could never reach a URL safely', async () => {
    const kube = new FakeKube();
    const result = await prune(kube, [{ id: 'apps_.._ _ConfigMap', v: 'v1', wave: 2 }], options());
    assert.equal(result.failed.length, 0);
    assert.deepEqual(kube.writes(), []);
  });

  describe('objects DORIS may not read', () => {
    const unreadable = () => {
      const kube = new FakeKube();
      kube.forbid = [{ verb: 'get', kind: 'Secret' }];
      const secret = kube.seed(stampOwnership({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'apps' } }, 'main'));
      return { kube, secret };
    };

    it('are never deleted without a record of the last apply', async () => {
      const { kube, secret } = unreadable();
      const result = await prune(kube, [entryOf(secret)], options());
      assert.equal(result.unverified.length, 1);
      assert.deepEqual(kube.writes(), []);
    });

    it('are deleted when unchanged since DORIS applied them', async () => {
      const { kube, secret } = unreadable();
      const entry = entryOf(secret, 1, { uid: secret.metadata.uid as string, rv: secret.metadata.resourceVersion as string });
      const result = await prune(kube, [entry], options());
      assert.equal(result.pruned.length, 1);
      assert.equal(kube.objects.size, 0);
    });

    it('stay, with the reason, when someone changed them since (e.g. annotated prune: disabled by hand)', async () => {
      const { kube, secret } = unreadable();
      const entry = entryOf(secret, 1, { uid: secret.metadata.uid as string, rv: secret.metadata.resourceVersion as string });
      kube.seed({ ...secret, metadata: { ...secret.metadata, annotations: { 'doris.dev/prune': 'disabled' } } });
      const result = await prune(kube, [entry], options());
      assert.equal(result.unverified.length, 1);
      assert.match(result.unverified[0]!.reason, /changed since DORIS applied it/);
      assert.equal(kube.objects.size, 1);
    });

    it('stay when they asked not to be pruned when last applied', async () => {
      const { kube, secret } = unreadable();
      const entry = entryOf(secret, 1, { uid: secret.metadata.uid as string, rv: secret.metadata.resourceVersion as string, keep: true });
      const result = await prune(kube, [entry], options());
      assert.equal(result.skipped.length, 1);
      assert.equal(kube.objects.size, 1);
    });
  });
});
