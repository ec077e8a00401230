/**
 * Delete-and-recreate (apply/preflight.ts `recreateTarget`, apply/applier.ts): the
 * `doris.dev/recreate` annotation comes from git, which is untrusted, so it lets DORIS recreate
 * only what it owns or what nobody owns, and the delete removes only the object it checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyStage, defaultApplyOptions } from '../../../src/apply/applier.js';
import { LiveSnapshot } from '../../../src/apply/live.js';
import { declaredBy, type PreflightContext, PreflightError, preflight } from '../../../src/apply/preflight.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { objectId } from '../../../src/kube/objectid.js';
import { stampOwnership } from '../../../src/render/stamp.js';
import { FakeKube } from '../../fake/kube.js';
import { desired } from './unreadable.js';

const recreate = { 'doris.dev/recreate': 'true' };

/** A FakeKube that refuses every change to an existing object of these names, as for an immutable field. */
function immutable(...names: string[]): FakeKube {
  const kube = new FakeKube();
  const exists = (o: KubeObject) =>
    [...kube.objects.values()].some((l) => l.kind === o.kind && l.metadata.name === o.metadata.name && l.metadata.namespace === o.metadata.namespace);
  kube.refuse = (o) =>
    names.includes(o.metadata.name) && exists(o)
      ? new KubeApiError(
          'PATCH',
          o.kind,
          422,
          { reason: 'Invalid', message: `${o.kind} "${o.metadata.name}" is invalid: spec: Forbidden: field is immutable` },
          '',
        )
      : undefined;
  return kube;
}

function context(kube: FakeKube, objects: KubeObject[], extra: Partial<PreflightContext> = {}): PreflightContext {
  return {
    client: kube,
    live: new LiveSnapshot(kube, 'main'),
    pipeline: 'main',
    previous: new Map(),
    declared: declaredBy(objects.map(desired)),
    concurrency: 4,
    ...extra,
  };
}

const configMap = (name: string, data: Record<string, string>, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'apps', ...(annotations ? { annotations } : {}) }, data }) as KubeObject;

/** Preflight of one object: its verdict, or the refusal's message. */
async function verdictOf(ctx: PreflightContext, object: KubeObject): Promise<string> {
  const d = desired(object);
  try {
    return (await preflight(ctx, [d])).get(d)!.action;
  } catch (error) {
    assert.ok(error instanceof PreflightError, String(error));
    return `${error.code}: ${error.message}`;
  }
}

describe('recreating an object git changes in an immutable field', () => {
  it("refuses another Pipeline's object, whatever the annotation, and deletes nothing", async () => {
    const kube = immutable('db');
    kube.seed(stampOwnership(configMap('db', { a: '1' }), 'other'));
    const object = stampOwnership(configMap('db', { a: 'evil' }, recreate), 'main');
    const verdict = await verdictOf(context(kube, [object]), object);
    assert.match(verdict, /^OwnershipConflict: .*other/);
    assert.deepEqual(
      kube.writes().filter((w) => w.startsWith('DELETE')),
      [],
    );
  });

  it('refuses a CustomResourceDefinition and a Namespace: everything in them would go too', async () => {
    for (const object of [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'pipelines.doris.dev', annotations: recreate },
        spec: { scope: 'Cluster' },
      },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps', annotations: recreate }, spec: { finalizers: [] } },
    ] as KubeObject[]) {
      const kube = immutable(object.metadata.name);
      kube.seed({ ...object, metadata: { name: object.metadata.name } } as KubeObject);
      const stamped = stampOwnership(object, 'main');
      assert.match(await verdictOf(context(kube, [stamped]), stamped), new RegExp(`^ValidationFailed: .*never deletes and recreates a ${object.kind}`));
    }
  });

  it("refuses the DORIS install's own objects", async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'doris', namespace: 'doris-system', annotations: recreate },
      spec: { selector: { matchLabels: { app: 'evil' } } },
    } as KubeObject;
    const kube = immutable('doris');
    kube.seed({ ...deployment, metadata: { name: 'doris', namespace: 'doris-system' }, spec: { selector: { matchLabels: { app: 'doris' } } } } as KubeObject);
    const stamped = stampOwnership(deployment, 'main');
    const ctx = context(kube, [stamped], { protectedIds: new Set([objectId(stamped)]) });
    assert.match(await verdictOf(ctx, stamped), /^ValidationFailed: .*part of the DORIS install/);
  });

  it('refuses an object it may not read and has no record of applying', async () => {
    const kube = immutable('db');
    kube.seed(stampOwnership(configMap('db', { a: '1' }), 'other'));
    kube.forbid = [
      { verb: 'list', kind: 'ConfigMap', namespace: 'cluster' },
      { verb: 'list', kind: 'ConfigMap', namespace: 'apps' },
      { verb: 'get', kind: 'ConfigMap', namespace: 'apps' },
    ];
    const object = stampOwnership(configMap('db', { a: 'evil' }, recreate), 'main');
    assert.match(await verdictOf(context(kube, [object]), object), /^ValidationFailed: .*cannot tell whether another Pipeline owns it/);
  });

  it('recreates its own object, and an unowned one with the annotation', async () => {
    const kube = immutable('mine', 'loose');
    kube.seed(stampOwnership(configMap('mine', { a: '1' }), 'main'));
    kube.seed(configMap('loose', { a: '1' }));
    const mine = stampOwnership(configMap('mine', { a: '2' }, recreate), 'main');
    const unowned = stampOwnership(configMap('loose', { a: '2' }, recreate), 'main');
    const ctx = context(kube, [mine, unowned]);
    assert.equal(await verdictOf(ctx, mine), 'recreate');
    assert.equal(await verdictOf(ctx, unowned), 'recreate');
  });

  it('deletes only the object it checked: one put in its place since is left alone', async () => {
    const kube = immutable('db');
    kube.seed(stampOwnership(configMap('db', { a: '1' }), 'main'));
    const object = stampOwnership(configMap('db', { a: '2' }, recreate), 'main');
    const d = desired(object);
    const ctx = context(kube, [object]);
    const verdicts = await preflight(ctx, [d]);
    assert.equal(verdicts.get(d)?.action, 'recreate');
    // Someone deletes it and another Pipeline creates an object of the same name.
    await kube.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'apps', name: 'db' });
    const replacement = kube.seed(stampOwnership(configMap('db', { a: 'theirs' }), 'other'));
    await assert.rejects(applyStage(ctx, [d], defaultApplyOptions(), verdicts), /Precondition failed/);
    const after = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'apps', name: 'db' });
    assert.equal(after?.metadata.uid, replacement.metadata.uid);
  });
});
