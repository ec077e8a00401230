import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline } from '../../../src/api/pipeline.js';
import type { KubeClient, ObjectKey } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { createLogger } from '../../../src/log.js';
import { EventRecorder, maxAggregatedEvents } from '../../../src/status/events.js';

/** Events as an API server keeps them: created, merge-patched, expired. */
class EventStore {
  readonly events = new Map<string, Record<string, unknown>>();
  readonly calls: string[] = [];
  asClient(): KubeClient {
    return {
      create: async (object: KubeObject) => {
        this.calls.push('create');
        this.events.set(object.metadata.name, structuredClone(object) as unknown as Record<string, unknown>);
        return object;
      },
      mergePatch: async (key: ObjectKey, patch: unknown) => {
        this.calls.push('patch');
        const current = this.events.get(key.name);
        if (!current) throw new KubeApiError('PATCH', `/api/v1/events/${key.name}`, 404, { reason: 'NotFound', message: 'not found' }, '');
        Object.assign(current, patch);
        return current as unknown as KubeObject;
      },
    } as unknown as KubeClient;
  }
}

const silent = createLogger({ level: 'silent' });
const pipeline = { apiVersion: 'doris.dev/v1alpha1', kind: 'Pipeline', metadata: { name: 'main', namespace: 'doris-system', uid: 'u1' } } as Pipeline;

describe('EventRecorder aggregation', () => {
  it('counts the same reason and message on one Event, moving lastTimestamp', async () => {
    const store = new EventStore();
    const recorder = new EventRecorder(store.asClient(), silent);
    for (let i = 0; i < 3; i++) await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'git ls-remote failed: 403');
    assert.equal(store.events.size, 1);
    const [event] = [...store.events.values()];
    assert.equal(event?.count, 3);
    assert.ok((event?.lastTimestamp as string) >= (event?.firstTimestamp as string));
    assert.deepEqual(store.calls, ['create', 'patch', 'patch']);
  });

  it('writes a new Event for another message, reason, type or object', async () => {
    const store = new EventStore();
    const recorder = new EventRecorder(store.asClient(), silent);
    await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'one');
    await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'two');
    await recorder.record(pipeline, 'Warning', 'ApplyFailed', 'one');
    await recorder.record(pipeline, 'Normal', 'ArtifactFailed', 'one');
    await recorder.record({ ...pipeline, metadata: { ...pipeline.metadata, name: 'other' } }, 'Warning', 'ArtifactFailed', 'one');
    assert.equal(store.events.size, 5);
    for (const event of store.events.values()) assert.equal(event.count, 1);
  });

  it('creates a new Event when the one it would count on has expired', async () => {
    const store = new EventStore();
    const recorder = new EventRecorder(store.asClient(), silent);
    await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'again');
    store.events.clear();
    await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'again');
    await recorder.record(pipeline, 'Warning', 'ArtifactFailed', 'again');
    assert.equal(store.events.size, 1);
    assert.equal([...store.events.values()][0]?.count, 2);
  });

  it('aggregates by the message as written (capped at 1,000 characters)', async () => {
    const store = new EventStore();
    const recorder = new EventRecorder(store.asClient(), silent);
    await recorder.record(pipeline, 'Warning', 'BuildFailed', `${'x'.repeat(2000)}a`);
    await recorder.record(pipeline, 'Warning', 'BuildFailed', `${'x'.repeat(2000)}b`);
    assert.equal(store.events.size, 1);
    assert.equal(String([...store.events.values()][0]?.message).length, 1000);
  });

  it('remembers a bounded number of Events', async () => {
    const store = new EventStore();
    const recorder = new EventRecorder(store.asClient(), silent);
    for (let i = 0; i <= maxAggregatedEvents; i++) await recorder.record(pipeline, 'Normal', 'Succeeded', `applied ${i}`);
    // The first was forgotten: the same message again starts a new Event.
    await recorder.record(pipeline, 'Normal', 'Succeeded', 'applied 0');
    assert.equal(store.events.size, maxAggregatedEvents + 2);
    // The newest is remembered.
    await recorder.record(pipeline, 'Normal', 'Succeeded', `applied ${maxAggregatedEvents}`);
    assert.equal(store.calls.at(-1), 'patch');
  });
});
