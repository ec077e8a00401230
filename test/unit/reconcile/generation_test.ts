/**
 * `observedGeneration` names the spec a sync applied. The Pipeline object a sync holds is
 * replaced by each status write's answer, which carries the newest generation: a spec edited
 * while the sync ran must not be recorded as applied (Ready=True for a spec not applied).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KubeObject } from '../../../src/kube/object.js';
import type { ObjectKey } from '../../../src/kube/client.js';
import { syncCommit } from '../../../src/reconcile/sync.js';
import { FakeKube } from '../../fake/kube.js';
import { folderSource, syncContext } from './fixture.js';

const work = mkdtempSync(join(tmpdir(), 'doris-generation-'));
after(() => rmSync(work, { recursive: true, force: true }));

const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  a: "1"\n';

/** A spec edit lands (generation 2) just before the sync's first status write is answered. */
class EditedDuringSync extends FakeKube {
  override async mergePatch(key: ObjectKey, patch: unknown): Promise<KubeObject> {
    const stored = this.objects.get(`Pipeline/${key.namespace ?? ''}/${key.name}`);
    if (stored) stored.metadata.generation = 2;
    return super.mergePatch(key, patch);
  }
}

describe('observedGeneration', () => {
  it('is the generation the sync applied, not a newer one a status write answered with', async () => {
    const kube = new EditedDuringSync();
    const ctx = syncContext(kube, work);
    ctx.pipeline.metadata.generation = 1;
    const outcome = await syncCommit(ctx, 'c1', folderSource(work, { 'deploy/1-app/10-settings.yml': configMap }));
    assert.equal(outcome.result, 'Succeeded', outcome.message);
    assert.equal(ctx.pipeline.metadata.generation, 2, 'the edit did not land during the sync');
    assert.equal(ctx.pipeline.status?.observedGeneration, 1);
    assert.equal(ctx.pipeline.status?.conditions?.find((c) => c.type === 'Ready')?.observedGeneration, 1);
  });

  it('is the generation the spec was read from when the Pipeline was read again after it (SyncContext.generation)', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    ctx.pipeline.metadata.generation = 2;
    ctx.generation = 1;
    await syncCommit(ctx, 'c1', folderSource(work, { 'deploy/1-app/10-settings.yml': configMap }));
    assert.equal(ctx.pipeline.status?.observedGeneration, 1);
  });
});
