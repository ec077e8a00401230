import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Informer } from '../../../src/hub/informer.js';
import type { KubeClient, WatchEvent } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { createLogger } from '../../../src/log.js';
import { waitFor } from '../../env/proc.js';

const log = createLogger({ level: 'silent' });

/** A list and a watch the test drives: each list answers `listed`; events are sent by hand. */
class ScriptedWatch {
  listed: { items: KubeObject[]; resourceVersion: string } = { items: [], resourceVersion: '1' };
  lists = 0;
  private send: ((event: WatchEvent) => void) | undefined;

  readonly client = {
    listVersioned: async () => {
      this.lists++;
      return structuredClone(this.listed);
    },
    watch: (_apiVersion: string, _kind: string, _options: unknown, onEvent: (event: WatchEvent) => void, signal?: AbortSignal) =>
      new Promise<void>((resolve) => {
        this.send = onEvent;
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
  } as unknown as KubeClient;

  get watching(): boolean {
    return this.send !== undefined;
  }

  emit(type: WatchEvent['type'], object: KubeObject): void {
    assert.ok(this.send, 'no watch open');
    this.send({ type, object });
  }

  /** Ends the watch with an error: the informer lists again. */
  fail(): void {
    const send = this.send;
    this.send = undefined;
    send?.({ type: 'ERROR', object: { apiVersion: 'v1', kind: 'Status', metadata: { name: '' }, code: 500 } });
  }
}

const device = (name: string, resourceVersion: string, note: string, uid = `uid-${name}`): KubeObject => ({
  apiVersion: 'hub.doris.dev/v1alpha1',
  kind: 'Device',
  metadata: { name, namespace: 'hub', uid, resourceVersion },
  status: { note },
});

const informers: Informer<KubeObject>[] = [];
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
});

async function started(script: ScriptedWatch) {
  const seen: Array<[string, string | undefined]> = [];
  const informer = new Informer<KubeObject>(
    script.client,
    'hub.doris.dev/v1alpha1',
    'Device',
    'hub',
    log,
    (o) => o,
    (name, item) => seen.push([name, (item?.status as { note?: string } | undefined)?.note]),
    { resyncMs: 60_000, watchTimeoutSeconds: 60, retryMs: 10 },
  );
  informers.push(informer);
  informer.start();
  await waitFor('the watch to open', async () => script.watching || undefined, { timeoutMs: 5000 });
  const note = (name: string) => (informer.get(name)?.status as { note?: string } | undefined)?.note;
  return { informer, seen, note };
}

describe('the hub informer never goes back to an older version', () => {
  it('a watch event older than what this replica wrote is dropped; the next one is taken', async () => {
    const script = new ScriptedWatch();
    script.listed = { items: [device('d1', '10', 'created')], resourceVersion: '10' };
    const { informer, note } = await started(script);
    informer.set(device('d1', '12', 'connected'));
    // The events of the create's follow-up and of our own write arrive after the write's answer.
    script.emit('MODIFIED', device('d1', '11', 'an earlier write'));
    assert.equal(note('d1'), 'connected');
    script.emit('MODIFIED', device('d1', '12', 'connected'));
    script.emit('MODIFIED', device('d1', '13', 'written by another replica'));
    assert.equal(note('d1'), 'written by another replica');
  });

  it('a deletion older than a recreation this replica wrote keeps the new object; a newer one removes it', async () => {
    const script = new ScriptedWatch();
    script.listed = { items: [device('d2', '20', 'old')], resourceVersion: '20' };
    const { informer, seen, note } = await started(script);
    informer.set(device('d2', '22', 'enrolled again', 'uid-2b'));
    script.emit('DELETED', device('d2', '21', 'old'));
    assert.equal(note('d2'), 'enrolled again');
    script.emit('DELETED', device('d2', '23', 'enrolled again', 'uid-2b'));
    assert.equal(informer.get('d2'), undefined);
    assert.deepEqual(seen.at(-1), ['d2', undefined]);
  });

  it('a relist read before this replica created an object does not remove it, and updates the others', async () => {
    const script = new ScriptedWatch();
    script.listed = { items: [device('a', '30', 'a1'), device('gone', '31', 'g')], resourceVersion: '31' };
    const { informer, note } = await started(script);
    informer.set(device('new', '40', 'created here'));
    script.listed = { items: [device('a', '35', 'a2')], resourceVersion: '36' };
    script.fail();
    await waitFor('the relist', async () => (script.lists === 2 && script.watching) || undefined, { timeoutMs: 5000 });
    assert.equal(note('a'), 'a2');
    assert.equal(informer.get('gone'), undefined);
    assert.equal(note('new'), 'created here');
  });

  it('resourceVersions that are not integers are not compared: the latest event wins', async () => {
    const script = new ScriptedWatch();
    script.listed = { items: [device('x', 'b', 'listed')], resourceVersion: 'b' };
    const { informer, note } = await started(script);
    informer.set(device('x', 'c', 'written'));
    script.emit('MODIFIED', device('x', 'a', 'from the watch'));
    assert.equal(note('x'), 'from the watch');
  });
});
