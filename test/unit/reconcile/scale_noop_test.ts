import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePipelineSpec } from '../../../src/api/pipeline.js';
import { RenderCache } from '../../../src/render/cache.js';
import { configHashAnnotation } from '../../../src/render/confighash.js';
import { syncCommit } from '../../../src/reconcile/sync.js';
import { FakeKube } from '../../fake/kube.js';
import { folderSource, syncContext } from './fixture.js';

const work = mkdtempSync(join(tmpdir(), 'doris-scale-noop-'));
after(() => rmSync(work, { recursive: true, force: true }));

const settings = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  a: "1"\n';
// Reads a ConfigMap that is not in the commit: its data is an input of the desired set.
const worker = [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata:',
  '  name: worker',
  '  namespace: apps',
  '  annotations:',
  '    doris.dev/health: ignore',
  'spec:',
  '  selector:',
  '    matchLabels: {app: worker}',
  '  template:',
  '    metadata:',
  '      labels: {app: worker}',
  '    spec:',
  '      containers:',
  '        - name: main',
  '          image: registry.example/worker:1',
  '          envFrom:',
  '            - configMapRef:',
  '                name: external',
  '',
].join('\n');
const files = { 'deploy/1-app/10-settings.yml': settings };

const cmKey = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'apps', name: 'settings' };

describe('a no-op resync of an unchanged commit (issue 15)', () => {
  it('neither fetches, checks out nor renders again, writes nothing, and still re-applies an object edited by hand', async () => {
    const kube = new FakeKube();
    const cache = new RenderCache();
    const ctx = syncContext(kube, work, { cache });
    const source = folderSource(work, files);
    assert.equal((await syncCommit(ctx, 'c1', source)).result, 'Succeeded');
    assert.deepEqual([source.fetches, source.checkouts, cache.desiredSets], [1, 1, 1]);

    const writes = kube.writes().length;
    const noop = await syncCommit(ctx, 'c1', source);
    assert.equal(noop.result, 'Succeeded');
    assert.equal(noop.counts.unchanged, 1);
    assert.equal(noop.wrote, false);
    assert.deepEqual([source.fetches, source.checkouts], [1, 1], 'the resync used the last desired set');
    assert.deepEqual(kube.writes().slice(writes), []);

    // Drift: someone edits the ConfigMap; the next resync (still without a checkout) puts it back.
    const live = (await kube.get(cmKey))!;
    kube.seed({ ...live, data: { a: 'edited by hand' } });
    const healed = await syncCommit(ctx, 'c1', source);
    assert.equal(healed.result, 'Succeeded');
    assert.equal(healed.counts.configured, 1);
    assert.deepEqual([source.fetches, source.checkouts], [1, 1]);
    assert.deepEqual((await kube.get(cmKey))?.data, { a: '1' });

    // Deleted by hand: created again.
    await kube.delete(cmKey);
    const recreated = await syncCommit(ctx, 'c1', source);
    assert.equal(recreated.counts.created, 1);
    assert.ok(await kube.get(cmKey));
  });

  it('builds the set again for a new commit, a changed spec, or after a restart (a new cache)', async () => {
    const kube = new FakeKube();
    const cache = new RenderCache();
    const ctx = syncContext(kube, work, { cache });
    const source = folderSource(work, files);
    await syncCommit(ctx, 'c1', source);
    await syncCommit(ctx, 'c2', source);
    assert.equal(source.checkouts, 2, 'a new commit is checked out');
    ctx.spec = parsePipelineSpec({ git: { url: 'https://git.example.com/edge.git' }, targetNamespace: 'other' });
    await syncCommit(ctx, 'c2', source);
    // The target namespace is a render option: rendered again.
    assert.equal(source.checkouts, 3);
    assert.equal(cache.desiredSets, 1);
    await syncCommit(ctx, 'c2', source);
    assert.equal(source.checkouts, 3);
    const restarted = syncContext(kube, work, { cache: new RenderCache() });
    restarted.pipeline = ctx.pipeline;
    await syncCommit(restarted, 'c2', source);
    assert.equal(source.checkouts, 4, 'the first sync after a restart is a full one');
  });

  it('builds the set again when a ConfigMap it read from the cluster changed (its config hash moves)', async () => {
    const kube = new FakeKube();
    kube.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'external', namespace: 'apps' }, data: { mode: 'a' } });
    const cache = new RenderCache();
    const ctx = syncContext(kube, work, { cache });
    const source = folderSource(work, { ...files, 'deploy/1-app/20-worker.yml': worker });
    assert.equal((await syncCommit(ctx, 'c1', source)).result, 'Succeeded');
    const deploymentKey = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'worker' };
    const hashOf = async () => {
      const template = (await kube.get(deploymentKey))?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined;
      return template?.template?.metadata?.annotations?.[configHashAnnotation];
    };
    const first = await hashOf();
    assert.ok(first);
    assert.equal((await syncCommit(ctx, 'c1', source)).wrote, false);

    const external = (await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'apps', name: 'external' }))!;
    kube.seed({ ...external, data: { mode: 'b' } });
    const changed = await syncCommit(ctx, 'c1', source);
    assert.equal(changed.result, 'Succeeded');
    assert.equal(changed.counts.configured, 1);
    assert.equal(source.checkouts, 1, 'the render is reused; only the stamping is done again');
    const second = await hashOf();
    assert.ok(second);
    assert.notEqual(second, first, 'the new config data is in the hash');
  });
});

describe('RenderCache: last desired sets', () => {
  const memo = (n: number) => ({
    renderKey: 'k',
    rendered: { waves: [], problems: [] },
    inputsKey: 'i',
    configs: [],
    waves: [],
    objects: Array.from({ length: n }, () => ({}) as never),
    inventory: [],
    problems: [],
  });

  it('keeps one set per Pipeline within its object budget, dropping the least recently used', () => {
    const cache = new RenderCache({ maxObjects: 10, maxDesiredObjects: 10 });
    cache.rememberDesired('ns/a', memo(4));
    cache.rememberDesired('ns/b', memo(4));
    cache.lastDesired('ns/a');
    cache.rememberDesired('ns/c', memo(4));
    assert.ok(cache.lastDesired('ns/a'));
    assert.equal(cache.lastDesired('ns/b'), undefined);
    assert.ok(cache.lastDesired('ns/c'));
    cache.rememberDesired('ns/huge', memo(11));
    assert.equal(cache.lastDesired('ns/huge'), undefined, 'a set over the whole budget is not kept');
    cache.forgetDesired('ns/a');
    assert.equal(cache.desiredSets, 1);
  });

  it('freezes what it keeps', () => {
    const cache = new RenderCache();
    const kept = memo(1);
    cache.rememberDesired('ns/a', kept);
    assert.throws(() => {
      (kept.objects as unknown[]).push({});
    }, TypeError);
  });
});
