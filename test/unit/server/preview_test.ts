/**
 * Previews from the dashboard (server/cluster-source.ts): each is a git fetch into the
 * previews' shared cache and a dry-run of every object, so they run one at a time, and a
 * preview still running is shared rather than started again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeClient } from '../../../src/kube/client.js';
import type { PipelineDiff } from '../../../src/reconcile/diff-pipeline.js';
import { ControllerClusterSource, type ControllerLike } from '../../../src/server/cluster-source.js';

/** A controller whose diffs end when the test says. */
function controller() {
  const started: string[] = [];
  const finish = new Map<string, (diff: PipelineDiff) => void>();
  const like: ControllerLike = {
    leading: true,
    watcher: { pipelines: new Map() },
    activity: { get: () => undefined, subscribe: () => () => undefined },
    trigger: () => undefined,
    diff: (name) =>
      new Promise<PipelineDiff>((resolve) => {
        started.push(name);
        finish.set(name, resolve);
      }),
  };
  return { like, started, finish };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('dashboard previews', () => {
  it('share a preview still running, however long it runs, and run one at a time', async () => {
    const c = controller();
    const source = new ControllerClusterSource({} as KubeClient, c.like);
    const first = source.preview('web');
    await settle();
    const again = source.preview('web');
    const other = source.preview('db');
    await settle();
    assert.deepEqual(c.started, ['web'], 'a second preview started while one ran');
    c.finish.get('web')!({} as PipelineDiff);
    assert.equal(await first, await again);
    await settle();
    assert.deepEqual(c.started, ['web', 'db']);
    c.finish.get('db')!({} as PipelineDiff);
    await other;
    // Ended a moment ago: reused.
    await source.preview('web');
    assert.deepEqual(c.started, ['web', 'db']);
  });
});
