/**
 * The drift check of objects DORIS may write but not read (issue 15, ADR 0004): an empty
 * merge-patch dry-run ("peek") compares their resourceVersion with the one recorded at apply,
 * and only a difference costs the apply dry-run; and `PreflightContext.deferDriftChecks`,
 * with which a new commit's sync takes unreadable Secrets git did not change as unchanged
 * without any request. Everything else is dry-run as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { LiveSnapshot } from '../../../src/apply/live.js';
import { classify, declaredBy, type PreflightContext } from '../../../src/apply/preflight.js';
import { objectId } from '../../../src/kube/objectid.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { desiredHashAnnotation, stampOwnership } from '../../../src/render/stamp.js';
import { FakeKube } from '../../fake/kube.js';
import { desired, forbidSecretReads } from './unreadable.js';

const secret = (value: string, kind = 'Secret') =>
  stampOwnership({ apiVersion: 'v1', kind, metadata: { name: 's', namespace: 'apps' }, data: { k: value } }, 'main');

function context(kube: FakeKube, previous: InventoryEntry[], deferDriftChecks: boolean): PreflightContext {
  forbidSecretReads(kube);
  return {
    client: kube,
    live: new LiveSnapshot(kube, 'main'),
    pipeline: 'main',
    previous: new Map(previous.map((e) => [e.id, e])),
    declared: declaredBy([]),
    concurrency: 4,
    deferDriftChecks,
  };
}

function recorded(object: KubeObject, h = object.metadata.annotations?.[desiredHashAnnotation], stored?: KubeObject): InventoryEntry {
  const id = objectId(object);
  return { id, uid: stored?.metadata.uid ?? 'uid-1', rv: stored?.metadata.resourceVersion ?? '41', h } as InventoryEntry;
}

const dryRuns = (kube: FakeKube) => kube.requests.filter((r) => r.startsWith('DRYRUN')).length;
const peeks = (kube: FakeKube) => kube.requests.filter((r) => r.startsWith('PEEK')).length;

describe('deferred drift checks', () => {
  it('take an unreadable Secret git did not change as unchanged and unchecked, with the recorded uid and resourceVersion, and send nothing for it', async () => {
    const kube = new FakeKube();
    const object = secret('dg==');
    const verdict = await classify(context(kube, [recorded(object)], true), desired(object));
    assert.equal(verdict.action, 'unchanged');
    assert.ok(verdict.action === 'unchanged' && verdict.unchecked);
    assert.ok(verdict.action === 'unchanged' && verdict.live.metadata.resourceVersion === '41' && verdict.live.metadata.uid === 'uid-1');
    assert.equal(dryRuns(kube) + peeks(kube), 0);
  });

  it('without deferral, find an untouched Secret unchanged by a peek alone, and a hand-edited one changed', async () => {
    const kube = new FakeKube();
    const object = secret('dg==');
    const stored = kube.seed(object);
    const untouched = await classify(context(kube, [recorded(object, undefined, stored)], false), desired(object));
    assert.equal(untouched.action, 'unchanged');
    assert.ok(untouched.action === 'unchanged' && !untouched.unchecked);
    assert.deepEqual([peeks(kube), dryRuns(kube)], [1, 0]);
    kube.seed({ ...object, data: { k: 'ZWRpdGVk' } });
    const edited = await classify(context(kube, [recorded(object, undefined, stored)], false), desired(object));
    assert.equal(edited.action, 'changed');
    assert.deepEqual([peeks(kube), dryRuns(kube)], [2, 1]);
  });

  for (const [name, make] of [
    ['when git changed the Secret', (o: KubeObject) => ({ entries: [recorded(o, 'an-older-hash')], defer: true })],
    ['with no record of an apply', (_: KubeObject) => ({ entries: [] as InventoryEntry[], defer: true })],
  ] as const) {
    it(`dry-run the Secret ${name}`, async () => {
      const kube = new FakeKube();
      const object = secret('dg==');
      const { entries, defer } = make(object);
      const verdict = await classify(context(kube, entries, defer), desired(object));
      assert.ok(verdict.action !== 'unchanged' || !verdict.unchecked, JSON.stringify(verdict));
      assert.deepEqual([peeks(kube), dryRuns(kube)], [0, 1]);
    });
  }
});
