import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { applyStage, defaultApplyOptions } from '../../../src/apply/applier.js';
import { LiveSnapshot } from '../../../src/apply/live.js';
import { PreflightError, declaredBy, preflight, type PreflightContext } from '../../../src/apply/preflight.js';
import { KubeApiError } from '../../../src/kube/http.js';
import { objectId } from '../../../src/kube/objectid.js';
import { stampOwnership } from '../../../src/render/stamp.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';
import { FakeKube } from '../../fake/kube.js';

const pipeline = 'main';

function desired(object: KubeObject, line = 1, wave = 1): DesiredObject {
  return {
    object: stampOwnership(object, pipeline),
    wave,
    waveName: `${wave}-app`,
    step: 10,
    source: { file: `deploy/${wave}-app/10-objects.yml`, line, col: 1 },
  };
}

const configMap = (name: string, namespace = 'apps', data: Record<string, string> = { a: '1' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

function context(kube: FakeKube, objects: DesiredObject[], previous: InventoryEntry[] = []): PreflightContext {
  return {
    client: kube,
    live: new LiveSnapshot(kube, pipeline),
    pipeline,
    previous: new Map(previous.map((e) => [e.id, e])),
    declared: declaredBy(objects),
    concurrency: 4,
  };
}

async function refusalOf(promise: Promise<unknown>): Promise<PreflightError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PreflightError, String(error));
    return error;
  }
  assert.fail('expected a PreflightError');
}

describe('preflight', () => {
  it('writes nothing and names file:line:col, the object and the reason when the API server refuses one object', async () => {
    const kube = new FakeKube();
    kube.refuse = (o) =>
      o.metadata.name === 'bad' ? new KubeApiError('PATCH', '/x', 422, { reason: 'Invalid', message: 'data.a: Invalid value' }, '') : undefined;
    const objects = [desired(configMap('good')), desired(configMap('bad'), 7, 2)];
    const error = await refusalOf(preflight(context(kube, objects), objects));
    assert.equal(error.code, 'ValidationFailed');
    assert.match(error.message, /^deploy\/2-app\/10-objects\.yml:7:1: ConfigMap apps\/bad: 422 Invalid: data\.a: Invalid value$/);
    assert.deepEqual(kube.writes(), []);
  });

  it('lists every refusal at once', async () => {
    const kube = new FakeKube();
    kube.refuse = () => new KubeApiError('PATCH', '/x', 422, { reason: 'Invalid', message: 'nope' }, '');
    const objects = [desired(configMap('a'), 1), desired(configMap('b'), 5)];
    const error = await refusalOf(preflight(context(kube, objects), objects));
    assert.equal(error.message.split('\n').length, 2);
  });

  it('defers an object whose Namespace the same commit declares, and refuses one whose Namespace exists nowhere', async () => {
    const kube = new FakeKube();
    kube.refuse = (o) =>
      o.kind === 'ConfigMap'
        ? new KubeApiError(
            'PATCH',
            '/x',
            404,
            {
              reason: 'NotFound',
              message: `namespaces "${o.metadata.namespace}" not found`,
              details: { kind: 'namespaces', name: o.metadata.namespace },
            } as never,
            '',
          )
        : undefined;
    const ns = desired({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fresh' } });
    const inFresh = desired(configMap('one', 'fresh'));
    const verdicts = await preflight(context(kube, [ns, inFresh]), [ns, inFresh]);
    assert.equal(verdicts.get(inFresh)?.action, 'deferred');
    // The Namespace is missing: no dry-run was spent on an object that could only fail.
    assert.deepEqual(
      kube.requests.filter((r) => r.startsWith('DRYRUN ConfigMap')),
      [],
    );

    const nowhere = desired(configMap('two', 'nowhere'), 3);
    const error = await refusalOf(preflight(context(kube, [ns, nowhere]), [ns, nowhere]));
    assert.match(error.message, /ConfigMap nowhere\/two: 404 NotFound: namespaces "nowhere" not found/);
  });

  it('refuses a kind that nothing serves and no CRD of the commit declares; defers one a CRD declares', async () => {
    const kube = new FakeKube();
    const widget = desired({ apiVersion: 'acme.io/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'apps' } }, 4);
    const error = await refusalOf(preflight(context(kube, [widget]), [widget]));
    assert.match(error.message, /10-objects\.yml:4:1: Widget apps\/w: .*no CRD in this commit declares it/);

    const crd = desired({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.acme.io' },
      spec: { group: 'acme.io', names: { kind: 'Widget', plural: 'widgets' }, scope: 'Namespaced' },
    });
    const verdicts = await preflight(context(kube, [crd, widget]), [crd, widget]);
    assert.equal(verdicts.get(widget)?.action, 'deferred');
  });

  it('refuses an object that another Pipeline owns, and does not touch it', async () => {
    const kube = new FakeKube();
    kube.seed(stampOwnership(configMap('shared'), 'other'));
    const objects = [desired(configMap('shared'))];
    const error = await refusalOf(preflight(context(kube, objects), objects));
    assert.equal(error.code, 'OwnershipConflict');
    assert.match(error.message, /already belongs to Pipeline "other"/);
    assert.deepEqual(kube.writes(), []);
  });

  it('refuses an object it may not read that another Pipeline owns, and does not touch it', async () => {
    const kube = new FakeKube();
    const secret = (): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-creds', namespace: 'team-b' },
      data: { password: 'cmVhbA==' },
    });
    kube.seed(stampOwnership(secret(), 'other'));
    kube.forbid = [
      { verb: 'get', kind: 'Secret' },
      { verb: 'list', kind: 'Secret' },
    ];
    const objects = [desired({ ...secret(), data: { password: 'YXR0YWNrZXI=' } })];
    const error = await refusalOf(preflight(context(kube, objects), objects));
    assert.equal(error.code, 'OwnershipConflict');
    assert.match(error.message, /already belongs to Pipeline "other"/);
    assert.deepEqual(kube.writes(), []);
  });

  it('adopts an existing object that carries no ownership labels', async () => {
    const kube = new FakeKube();
    kube.seed(configMap('handmade'));
    const objects = [desired(configMap('handmade'))];
    const verdicts = await preflight(context(kube, objects), objects);
    assert.equal(verdicts.get(objects[0]!)?.action, 'changed');
  });

  it('sends no request for an object whose live copy has every field and the same desired hash', async () => {
    const kube = new FakeKube();
    const objects = [desired(configMap('same'))];
    kube.seed(objects[0]!.object);
    const before = kube.requests.length;
    const verdicts = await preflight(context(kube, objects), objects);
    assert.equal(verdicts.get(objects[0]!)?.action, 'unchanged');
    assert.deepEqual(
      kube.requests.slice(before).filter((r) => r.startsWith('DRYRUN')),
      [],
    );
  });

  describe('objects DORIS may write but not read', () => {
    const setup = () => {
      const kube = new FakeKube();
      kube.forbid = [
        { verb: 'list', kind: 'Secret' },
        { verb: 'get', kind: 'Secret' },
      ];
      const secret = desired({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'apps' }, data: { k: 'dg==' } });
      const stored = kube.seed(secret.object);
      /** The inventory entry DORIS recorded when it last applied the Secret. */
      const record = (rv = stored.metadata.resourceVersion as string): InventoryEntry => ({
        id: objectId(secret.object),
        v: 'v1',
        wave: 1,
        uid: stored.metadata.uid as string,
        rv,
        h: secret.object.metadata.annotations?.['doris.dev/desired-hash'],
      });
      return { kube, secret, record };
    };

    it('are unchanged when uid, resourceVersion and desired hash match what the last apply recorded', async () => {
      const { kube, secret, record } = setup();
      const ctx = context(kube, [secret], [record()]);
      const verdicts = await preflight(ctx, [secret]);
      assert.equal(verdicts.get(secret)?.action, 'unchanged');
      const changes = await applyStage(ctx, [secret], defaultApplyOptions(), verdicts);
      assert.equal(changes[0]?.readable, false);
      assert.deepEqual(kube.writes(), []);
    });

    it('are re-applied when someone wrote them since (drift), or without a record', async () => {
      const { kube, secret, record } = setup();
      assert.equal((await preflight(context(kube, [secret], [record('older')]), [secret])).get(secret)?.action, 'changed');
      assert.equal((await preflight(context(kube, [secret]), [secret])).get(secret)?.action, 'changed');
    });
  });
});
