/**
 * What Ready means, seen through every status write a sync makes (a fake API server that
 * keeps each write): Unknown/Progressing from before the first write of a new commit until it
 * is applied and healthy; conditions carry observedGeneration; never Stalled=True together
 * with Reconciling=True; repeated failures of one commit make one history entry.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePipelineSpec, type Condition, type ImageChange, type Pipeline, type PipelineStatus } from '../../../src/api/pipeline.js';
import type { ObjectKey } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { syncCommit, type SyncContext } from '../../../src/reconcile/sync.js';
import type { CommitSource } from '../../../src/source/source.js';
import { FakeKube } from '../../fake/kube.js';

const work = mkdtempSync(join(tmpdir(), 'doris-ready-unit-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Serves `files` as commit `files`' key: each commit its own folder. */
function commits(byCommit: Record<string, Record<string, string>>): CommitSource {
  return {
    path: 'deploy',
    fetchCommit: async () => undefined,
    checkout: async (commit: string, dir: string) => {
      const target = join(dir, `${commit}-${Math.random().toString(36).slice(2)}`);
      for (const [path, text] of Object.entries(byCommit[commit] ?? {})) {
        mkdirSync(join(target, path, '..'), { recursive: true });
        writeFileSync(join(target, path), text);
      }
      mkdirSync(join(target, 'deploy'), { recursive: true });
      return target;
    },
  };
}

/** A JSON merge patch (RFC 7386), as the API server applies it. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Keeps every status the fake API server stored, and which object writes came in between. */
class Recording extends FakeKube {
  readonly timeline: Array<{ status?: PipelineStatus; objectWrite?: string }> = [];
  override async mergePatch(key: ObjectKey, patch: unknown): Promise<KubeObject> {
    const current = this.objects.get(`${key.kind}/${key.namespace ?? ''}/${key.name}`);
    const stored = await super.mergePatch(key, mergePatch(current, patch));
    this.timeline.push({ status: structuredClone((stored as unknown as Pipeline).status) });
    return stored;
  }
  override async apply(object: KubeObject, options: { dryRun?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
    if (!options.dryRun) this.timeline.push({ objectWrite: `${object.kind}/${object.metadata.name}` });
    return super.apply(object, options);
  }
}

function context(kube: FakeKube, generation = 1): SyncContext {
  const pipeline = kube.seed({ apiVersion: 'v1', kind: 'Pipeline', metadata: { name: 'main', namespace: 'doris-system', generation } }) as unknown as Pipeline;
  return {
    client: kube,
    pipeline,
    spec: parsePipelineSpec({ git: { url: 'https://git.example.com/edge.git' } }),
    credentials: {},
    workDir: work,
    controllerNamespace: 'doris-system',
    controllerDeployment: 'doris',
    progress: () => undefined,
  } as SyncContext;
}

const cm = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: apps\ndata:\n  a: "${value}"\n`;
const condition = (status: PipelineStatus | undefined, type: Condition['type']) => status?.conditions?.find((c) => c.type === type);

function assertNeverStalledWhileReconciling(timeline: Recording['timeline']): void {
  for (const { status } of timeline) {
    if (!status) continue;
    assert.ok(
      !(condition(status, 'Stalled')?.status === 'True' && condition(status, 'Reconciling')?.status === 'True'),
      `Stalled and Reconciling both True: ${JSON.stringify(status.conditions)}`,
    );
  }
}

describe('Ready while a new commit is applied', () => {
  it('is Unknown/Progressing before the first object write of a new commit and True only once it is applied', async () => {
    const kube = new Recording();
    const ctx = context(kube);
    const source = commits({ a: { 'deploy/1-app/120-one.yml': cm('one', '1') }, b: { 'deploy/1-app/120-one.yml': cm('one', '2') } });
    assert.equal((await syncCommit(ctx, 'a', source)).result, 'Succeeded');
    assert.equal(condition(ctx.pipeline.status, 'Ready')?.status, 'True');
    kube.timeline.length = 0;

    assert.equal((await syncCommit(ctx, 'b', source)).result, 'Succeeded');
    const firstWrite = kube.timeline.findIndex((t) => t.objectWrite);
    assert.ok(firstWrite > 0, 'the commit wrote an object, after a status write');
    for (const { status } of kube.timeline.slice(0, firstWrite)) {
      const ready = condition(status, 'Ready');
      assert.equal(ready?.status, 'Unknown', 'no Ready=True for the old commit once the new one is being applied');
      assert.equal(ready?.reason, 'Progressing');
      assert.equal(ready?.observedGeneration, 1);
      assert.equal(condition(status, 'Reconciling')?.status, 'True');
    }
    const last = kube.timeline.at(-1)?.status;
    assert.equal(last?.lastAppliedCommit, 'b');
    assert.equal(condition(last, 'Ready')?.status, 'True');
    assert.equal(condition(last, 'Reconciling'), undefined);
    for (const c of last?.conditions ?? []) assert.equal(c.observedGeneration, 1, `${c.type} carries observedGeneration`);
  });

  it('a new generation of the same commit goes through Progressing and records the generation', async () => {
    const kube = new Recording();
    const ctx = context(kube);
    const source = commits({ a: { 'deploy/1-app/120-one.yml': cm('one', '1') } });
    await syncCommit(ctx, 'a', source);
    ctx.pipeline = kube.seed({ ...ctx.pipeline, metadata: { ...ctx.pipeline.metadata, generation: 2 } } as unknown as KubeObject) as unknown as Pipeline;
    kube.timeline.length = 0;
    const outcome = await syncCommit(ctx, 'a', source);
    assert.equal(outcome.wrote, true, 'the new generation is recorded even though no object changed');
    assert.equal(condition(kube.timeline[0]?.status, 'Ready')?.status, 'Unknown');
    const last = kube.timeline.at(-1)?.status;
    assert.equal(last?.observedGeneration, 2);
    assert.equal(condition(last, 'Ready')?.status, 'True');
    assert.equal(condition(last, 'Ready')?.observedGeneration, 2);
    // And then a resync of the same commit and generation writes nothing at all.
    kube.timeline.length = 0;
    assert.equal((await syncCommit(ctx, 'a', source)).wrote, false);
    assert.deepEqual(kube.timeline, []);
  });
});

describe('Ready while new image digests are applied', () => {
  it('is Unknown/Progressing before the first write of a new digest, then True', async () => {
    const kube = new Recording();
    const ctx = context(kube);
    ctx.spec = parsePipelineSpec({ git: { url: 'https://git.example.com/edge.git' }, images: [{ repository: 'ghcr.io/acme/app' }] });
    let digest = `sha256:${'a'.repeat(64)}`;
    let changes: ImageChange[] = [];
    // The registry, as the sync sees it through the image tracker.
    ctx.images = {
      resolve: async () => ({
        images: [{ rule: 'ghcr.io/acme/app:main', repository: 'ghcr.io/acme/app', tag: 'main', digest }],
        tracked: new Map(),
        changes,
        kept: [],
        unresolved: [],
        errors: [],
      }),
    } as unknown as SyncContext['images'];
    const source = commits({ a: { 'deploy/1-app/120-one.yml': cm('one', '1') } });
    assert.equal((await syncCommit(ctx, 'a', source)).result, 'Succeeded');
    kube.timeline.length = 0;

    const from = digest;
    digest = `sha256:${'b'.repeat(64)}`;
    changes = [{ repository: 'ghcr.io/acme/app', tag: 'main', from, to: digest, at: new Date().toISOString() }];
    assert.equal((await syncCommit(ctx, 'a', source)).result, 'Succeeded');
    const first = kube.timeline[0]?.status;
    assert.equal(condition(first, 'Ready')?.status, 'Unknown');
    assert.match(condition(first, 'Ready')?.message ?? '', /with new image digests/);
    const last = kube.timeline.at(-1)?.status;
    assert.equal(condition(last, 'Ready')?.status, 'True');
    assert.equal(last?.images?.[0]?.digest, digest);
  });
});

describe('repeated failures of one commit', () => {
  it('update one history entry (count, firstTime), keep the last success, and are never Stalled while Reconciling', async () => {
    const kube = new Recording();
    const ctx = context(kube);
    const source = commits({
      good: { 'deploy/1-app/120-one.yml': cm('one', '1') },
      // A broken commit: Stalled (BuildFailed), retried as the controller would.
      broken: { 'deploy/1-app/120-one.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n' },
    });
    assert.equal((await syncCommit(ctx, 'good', source)).result, 'Succeeded');
    for (let i = 0; i < 25; i++) assert.equal((await syncCommit(ctx, 'broken', source)).result, 'BuildFailed');
    const history = ctx.pipeline.status?.history ?? [];
    assert.equal(history.length, 2, JSON.stringify(history.map((h) => [h.commit, h.result, h.count])));
    assert.equal(history[0]?.commit, 'broken');
    assert.equal(history[0]?.count, 25);
    assert.ok(history[0]?.firstTime && history[0].firstTime <= history[0].startedAt);
    assert.equal(history[1]?.commit, 'good');
    assert.equal(history[1]?.result, 'Succeeded');
    assert.equal(condition(ctx.pipeline.status, 'Stalled')?.status, 'True');
    assertNeverStalledWhileReconciling(kube.timeline);
  });

  it('a retry keeps Ready=False with its reason while Reconciling, and a fixed commit clears Stalled before it applies', async () => {
    class WriteFails extends Recording {
      failing = true;
      override async apply(object: KubeObject, options: { dryRun?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
        if (!options.dryRun && this.failing) throw new Error('connection reset');
        return super.apply(object, options);
      }
    }
    const kube = new WriteFails();
    const ctx = context(kube);
    const source = commits({
      x: { 'deploy/1-app/120-two.yml': cm('two', '1') },
      broken: { 'deploy/1-app/120-one.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n' },
    });
    assert.equal((await syncCommit(ctx, 'x', source)).result, 'ApplyFailed');
    kube.timeline.length = 0;
    assert.equal((await syncCommit(ctx, 'x', source)).result, 'ApplyFailed');
    const reconciling = kube.timeline.filter((t) => condition(t.status, 'Reconciling')?.status === 'True');
    assert.ok(reconciling.length > 0, 'the retry shows Reconciling');
    for (const { status } of reconciling) assert.equal(condition(status, 'Ready')?.reason, 'ApplyFailed', 'the retry keeps the failure until it ends');

    kube.failing = false;
    assert.equal((await syncCommit(ctx, 'broken', source)).result, 'BuildFailed');
    assert.equal(condition(ctx.pipeline.status, 'Stalled')?.status, 'True');
    assert.equal((await syncCommit(ctx, 'x', source)).result, 'Succeeded');
    assertNeverStalledWhileReconciling(kube.timeline);
    assert.equal(condition(ctx.pipeline.status, 'Stalled'), undefined);
  });
});
