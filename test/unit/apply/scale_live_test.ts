import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { LiveSnapshot, forbiddenTtlMs } from '../../../src/apply/live.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { stampOwnership } from '../../../src/render/stamp.js';
import { FakeKube } from '../../fake/kube.js';

const secret = (name: string, namespace: string): KubeObject =>
  stampOwnership({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data: { k: 'dg==' } }, 'main');

/** The shipped RBAC: Secrets readable in DORIS's own namespace only. */
function leastPrivilege(): FakeKube {
  const kube = new FakeKube();
  kube.forbid = [
    { verb: 'list', kind: 'Secret', namespace: 'cluster' },
    { verb: 'list', kind: 'Secret', namespace: 'apps' },
  ];
  return kube;
}

const lists = (kube: FakeKube) => kube.requests.filter((r) => r.startsWith('LIST')).sort();

describe('LiveSnapshot at scale: refused LISTs are not asked again every resync', () => {
  it('a later snapshot of the same client skips the scopes it was refused, and still tells unreadable from absent', async () => {
    const kube = leastPrivilege();
    const own = kube.seed(secret('git', 'doris-system'));
    const app = secret('creds', 'apps');
    await new LiveSnapshot(kube, 'main').prefetch([own, app]);
    assert.deepEqual(lists(kube), ['LIST Secret/*', 'LIST Secret/apps', 'LIST Secret/doris-system']);

    kube.requests.length = 0;
    const again = new LiveSnapshot(kube, 'main');
    await again.prefetch([own, app]);
    assert.deepEqual(lists(kube), ['LIST Secret/doris-system'], 'only the readable scope is listed again');
    assert.deepEqual(await again.lookup(app), { readable: false });
    assert.equal((await again.lookup(own)).live?.metadata.uid, own.metadata.uid);
  });

  it('another client (another identity) asks for itself', async () => {
    const first = leastPrivilege();
    await new LiveSnapshot(first, 'main').prefetch([secret('creds', 'apps')]);
    const second = new FakeKube();
    const app = second.seed(secret('creds', 'apps'));
    const live = new LiveSnapshot(second, 'main');
    await live.prefetch([app]);
    assert.deepEqual(lists(second), ['LIST Secret/*']);
    assert.equal((await live.lookup(app)).readable, true);
  });

  it('a permission granted later is used once the refusal is older than its time', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const kube = leastPrivilege();
      const app = kube.seed(secret('creds', 'apps'));
      await new LiveSnapshot(kube, 'main').prefetch([app]);
      kube.forbid = [];
      kube.requests.length = 0;
      mock.timers.tick(forbiddenTtlMs - 1000);
      assert.deepEqual(await new LiveSnapshot(kube, 'main').lookup(app), { readable: false }, 'still believed refused');
      mock.timers.tick(2000);
      const live = new LiveSnapshot(kube, 'main');
      assert.equal((await live.lookup(app)).live?.metadata.uid, app.metadata.uid);
      assert.deepEqual(lists(kube), ['LIST Secret/*']);
    } finally {
      mock.timers.reset();
    }
  });
});
