/**
 * A Namespace whose file leaves git while objects of the commit are still in it: deleting it
 * would delete them too (and everything else in it), and the mass-prune guard counts it as
 * one object. It stays, and status says why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readInventory } from '../../../src/inventory/archive.js';
import { syncCommit } from '../../../src/reconcile/sync.js';
import { FakeKube } from '../../fake/kube.js';
import { folderSource, syncContext } from './fixture.js';

const work = mkdtempSync(join(tmpdir(), 'doris-prune-ns-'));
after(() => rmSync(work, { recursive: true, force: true }));

const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    doris.dev/health: ignore\n';
const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: shop\ndata:\n  a: "1"\n`;

describe('pruning a Namespace', () => {
  it('keeps a Namespace whose file left git while objects of the commit are still in it', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    const objects: Record<string, string> = {};
    for (let i = 0; i < 20; i += 1) objects[`deploy/2-app/${20 + i}-c${i}.yml`] = configMap(`c${i}`);
    const first = await syncCommit(ctx, 'c1', folderSource(work, { 'deploy/1-base/10-ns.yml': namespace, ...objects }));
    assert.equal(first.result, 'Succeeded', first.message);
    const second = await syncCommit(ctx, 'c2', folderSource(work, objects));
    assert.equal(second.result, 'Succeeded', second.message);
    assert.ok(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }), 'the Namespace was deleted with 20 objects of the commit in it');
    assert.equal(second.counts.pruned, 0);
    assert.match(second.message, /_shop__Namespace: objects this commit declares are in it/);
    // Kept in the inventory: pruned by the first sync that has nothing left in it.
    assert.ok(readInventory(ctx.pipeline.status).some((e) => e.id === '_shop__Namespace'));
  });

  it('still prunes a Namespace once nothing of the commit is in it', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    const other = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: apps\ndata:\n  a: "1"\n';
    await syncCommit(
      ctx,
      'c1',
      folderSource(work, { 'deploy/1-base/10-ns.yml': namespace, 'deploy/2-app/20-c.yml': configMap('c'), 'deploy/2-app/30-o.yml': other }),
    );
    const second = await syncCommit(ctx, 'c2', folderSource(work, { 'deploy/2-app/30-o.yml': other }));
    assert.equal(second.result, 'Succeeded', second.message);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }), undefined);
  });
});
