/**
 * What the controller records when the sync script could not: the Ready condition with a
 * reason from the closed set, an Event with that reason, the failure counter; a repeat of the
 * same state writes nothing. A fake KubeClient stands in for the API server (plain data).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline } from '../../../src/api/pipeline.js';
import { ActionReasons, Reasons } from '../../../src/api/reasons.js';
import { reasonOf, recordState, statePatch } from '../../../src/controller/record.js';
import { DorisError } from '../../../src/errors.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics.js';
import type { KubeObject } from '../../../src/render/types.js';
import { EventRecorder } from '../../../src/status/events.js';

const pipeline = (status: Pipeline['status'] = {}, generation = 3): Pipeline => ({
  apiVersion: 'doris.dev/v1alpha1',
  kind: 'Pipeline',
  metadata: { name: 'fleet', namespace: 'doris-system', generation, uid: 'u1' },
  spec: { git: { url: 'https://example.com/fleet.git' } },
  status,
});

/** The calls a recorder makes, against one stored Pipeline. */
function fakeClient(stored: Pipeline, options: { failPatches?: number } = {}) {
  let failures = options.failPatches ?? 0;
  const patches: unknown[] = [];
  const events: KubeObject[] = [];
  const client = {
    get: async () => structuredClone(stored) as unknown as KubeObject,
    mergePatch: async (_key: unknown, patch: { status: Pipeline['status'] }) => {
      if (failures > 0) {
        failures -= 1;
        throw new KubeApiError('PATCH', '/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/fleet/status', 409, { message: 'conflict' }, '');
      }
      patches.push(patch);
      stored.status = { ...stored.status, ...patch.status };
      return structuredClone(stored) as unknown as KubeObject;
    },
    create: async (object: KubeObject) => {
      events.push(object);
      return object;
    },
  } as unknown as KubeClient;
  return { client, patches, events };
}

const quiet = createLogger({ level: 'silent' });

function deps(client: KubeClient) {
  const metrics = new Metrics();
  return { deps: { client, events: new EventRecorder(client, quiet), metrics, log: quiet }, metrics };
}

async function failures(metrics: Metrics, reason: string): Promise<number> {
  const values = (await metrics.syncs.get()).values;
  return values.filter((v) => v.labels.result === reason).reduce((sum, v) => sum + v.value, 0);
}

describe('reasons of errors thrown around the sync script', () => {
  it('a status write refused is StatusWriteFailed; a coded error keeps its code; anything else is ReconcileFailed', () => {
    assert.equal(
      reasonOf(new KubeApiError('PATCH', '/apis/doris.dev/v1alpha1/namespaces/a/pipelines/b/status', 409, undefined, '')),
      Reasons.StatusWriteFailed,
    );
    assert.equal(reasonOf(new KubeApiError('GET', '/apis/doris.dev/v1alpha1/namespaces/a/pipelines/b', 403, undefined, '')), Reasons.ReconcileFailed);
    assert.equal(reasonOf(new DorisError(Reasons.CredentialsFailed, 'no token')), Reasons.CredentialsFailed);
    assert.equal(reasonOf(new TypeError('x is undefined')), Reasons.ReconcileFailed);
  });
});

describe('recordState', () => {
  it('a missing Secret: Ready False with the reason, an Event, the failure counter; Reconciling cleared', async () => {
    const stored = pipeline({
      conditions: [
        { type: 'Ready', status: 'True', reason: Reasons.Succeeded, message: 'applied', lastTransitionTime: 't0' },
        { type: 'Reconciling', status: 'True', reason: Reasons.Progressing, message: 'applying', lastTransitionTime: 't0' },
      ],
    });
    const { client, patches, events } = fakeClient(stored);
    const { deps: d, metrics } = deps(client);
    assert.equal(await recordState(d, pipeline(), Reasons.CredentialsFailed, 'Secret doris-system/git not found'), true);
    assert.equal(patches.length, 1);
    const ready = stored.status?.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual(
      [ready?.status, ready?.reason, ready?.message, ready?.observedGeneration],
      ['False', 'CredentialsFailed', 'Secret doris-system/git not found', 3],
    );
    assert.equal(
      stored.status?.conditions?.some((c) => c.type === 'Reconciling'),
      false,
    );
    assert.equal(stored.status?.observedGeneration, 3);
    assert.deepEqual(
      events.map((e) => [e.type, e.reason]),
      [['Warning', 'CredentialsFailed']],
    );
    assert.equal(await failures(metrics, 'CredentialsFailed'), 1);
  });

  it('the same state again writes nothing and records no Event, but counts the attempt', async () => {
    const stored = pipeline();
    const { client, patches, events } = fakeClient(stored);
    const { deps: d, metrics } = deps(client);
    await recordState(d, pipeline(), Reasons.CredentialsFailed, 'missing');
    await recordState(d, pipeline(), Reasons.CredentialsFailed, 'missing');
    assert.equal(patches.length, 1);
    assert.equal(events.length, 1);
    assert.equal(await failures(metrics, 'CredentialsFailed'), 2);
    await recordState(d, pipeline(), Reasons.CredentialsFailed, 'another message');
    assert.equal(patches.length, 2, 'a new message is a new state');
  });

  it('a status patch conflict: false is returned (retry later), the Event still tells', async () => {
    const stored = pipeline();
    const { client, patches, events } = fakeClient(stored, { failPatches: 1 });
    const { deps: d } = deps(client);
    assert.equal(await recordState(d, pipeline(), Reasons.StatusWriteFailed, 'conflict'), false);
    assert.equal(patches.length, 0);
    assert.deepEqual(
      events.map((e) => e.reason),
      ['StatusWriteFailed'],
    );
    assert.equal(await recordState(d, pipeline(), Reasons.StatusWriteFailed, 'conflict'), true, 'the retry writes it');
    assert.equal(stored.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'StatusWriteFailed');
  });

  it('an invalid spec is Stalled; any other reason clears Stalled', () => {
    const invalid = statePatch(pipeline(), Reasons.InvalidSpec, 'spec.git.interval: a duration', new Date(0));
    assert.deepEqual(
      invalid.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Ready', 'False', 'InvalidSpec'],
        ['Stalled', 'True', 'InvalidSpec'],
      ],
    );
    const suspended = statePatch(pipeline({ conditions: invalid.conditions }), Reasons.Suspended, 'suspended', new Date(0));
    assert.deepEqual(
      suspended.conditions.map((c) => [c.type, c.status, c.reason]),
      [['Ready', 'False', 'Suspended']],
    );
  });

  it('Suspended is a Normal Event and not a failure', async () => {
    const { client, events } = fakeClient(pipeline());
    const { deps: d, metrics } = deps(client);
    await recordState(d, pipeline(), Reasons.Suspended, 'spec.suspend is true');
    assert.deepEqual(
      events.map((e) => [e.type, e.reason]),
      [['Normal', 'Suspended']],
    );
    assert.equal(await failures(metrics, 'Suspended'), 0);
  });

  it('Event reasons are the closed set: conditions reasons and action reasons only', () => {
    const closed = new Set<string>([...Object.values(Reasons), ...Object.values(ActionReasons)]);
    for (const reason of ['Pruned', 'ImageUpdated', 'CredentialsFailed', 'StatusWriteFailed', 'ReconcileFailed', 'Suspended'])
      assert.ok(closed.has(reason), reason);
    // @ts-expect-error free text is not an Event reason
    void new EventRecorder(fakeClient(pipeline()).client, quiet).record(pipeline(), 'Normal', 'SomethingElse', 'x');
  });
});
