import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveSnapshot } from '../../../src/apply/live.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { stampOwnership } from '../../../src/render/stamp.js';
import { FakeKube } from '../../fake/kube.js';

const secret = (name: string, namespace: string): KubeObject =>
  stampOwnership({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data: { k: 'dg==' } }, 'main');

describe('LiveSnapshot', () => {
  it('lists each kind once, cluster-wide, and finds only objects with our ownership labels', async () => {
    const kube = new FakeKube();
    const ours = kube.seed(stampOwnership({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'apps' } }, 'main'));
    kube.seed(stampOwnership({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'apps' } }, 'other'));
    const live = new LiveSnapshot(kube, 'main');
    await live.prefetch([ours, { ...ours, metadata: { ...ours.metadata, name: 'b' } }]);
    assert.equal((await live.lookup(ours)).live?.metadata.uid, ours.metadata.uid);
    assert.equal((await live.lookup({ ...ours, metadata: { ...ours.metadata, name: 'b' } })).live, undefined);
    assert.deepEqual(
      kube.requests.filter((r) => r.startsWith('LIST')),
      ['LIST ConfigMap/*'],
    );
  });

  it('falls back to one LIST per namespace where a cluster-wide LIST is forbidden, and tells unreadable from absent', async () => {
    const kube = new FakeKube();
    kube.forbid = [
      { verb: 'list', kind: 'Secret', namespace: 'cluster' },
      { verb: 'list', kind: 'Secret', namespace: 'apps' },
    ];
    const own = kube.seed(secret('git', 'doris-system'));
    const app = secret('creds', 'apps');
    const live = new LiveSnapshot(kube, 'main');
    await live.prefetch([own, app]);
    assert.deepEqual(await live.lookup(app), { readable: false });
    const found = await live.lookup(own);
    assert.equal(found.readable, true);
    assert.equal(found.live?.metadata.uid, own.metadata.uid);
    assert.deepEqual(kube.requests.filter((r) => r.startsWith('LIST')).sort(), ['LIST Secret/*', 'LIST Secret/apps', 'LIST Secret/doris-system']);
  });
});
