import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeApiError } from '../../../src/kube/http.js';
import type { ListOptions, ObjectKey } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { RenderCache } from '../../../src/render/cache.js';
import { askHeadEarly, reconcilePipeline, syncCommit } from '../../../src/reconcile/sync.js';
import type { PipelineSource } from '../../../src/source/source.js';
import { FakeKube } from '../../fake/kube.js';
import { folderSource, syncContext } from './fixture.js';

const work = mkdtempSync(join(tmpdir(), 'doris-sync-unit-'));
after(() => rmSync(work, { recursive: true, force: true }));

const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  a: "1"\n';

describe('syncCommit', () => {
  it('reports a failed LIST of the live objects as ReconcileFailed, not ApplyFailed, and writes no object', async () => {
    class ListFails extends FakeKube {
      override async listVersioned(_apiVersion: string, kind: string, _options?: ListOptions): Promise<{ items: KubeObject[]; resourceVersion: string }> {
        throw new KubeApiError('GET', `/api/v1/${kind}`, 500, { reason: 'InternalError', message: 'etcd is unhappy' }, '');
      }
    }
    const kube = new ListFails();
    const ctx = syncContext(kube, work);
    const outcome = await syncCommit(ctx, 'c0ffee', folderSource(work, { 'deploy/1-app/120-settings.yml': configMap }));
    assert.equal(outcome.result, 'ReconcileFailed');
    assert.match(outcome.message, /could not list the live objects: .*etcd is unhappy/);
    const ready = ctx.pipeline.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'ReconcileFailed');
    assert.deepEqual(
      kube.writes().filter((w) => !w.startsWith('MERGE')),
      [],
    );
  });

  it('refuses the whole commit before any write when one object is refused in the dry-run', async () => {
    const kube = new FakeKube();
    kube.refuse = (o) =>
      o.metadata.name === 'broken'
        ? new KubeApiError('PATCH', '/x', 422, { reason: 'Invalid', message: 'spec.ports[0].port: Invalid value: 99999' }, '')
        : undefined;
    const ctx = syncContext(kube, work);
    const broken = configMap.replace('settings', 'broken');
    const outcome = await syncCommit(ctx, 'bad', folderSource(work, { 'deploy/1-app/120-settings.yml': configMap, 'deploy/2-later/120-broken.yml': broken }));
    assert.equal(outcome.result, 'ValidationFailed');
    assert.match(outcome.message, /deploy\/2-later\/120-broken\.yml:1:1: ConfigMap apps\/broken: 422 Invalid/);
    assert.deepEqual(
      kube.writes().filter((w) => !w.startsWith('MERGE')),
      [],
    );
  });

  it('fails loudly when the final status write is refused: StatusWriteFailed, not the old Ready=True', async () => {
    class StatusTooLarge extends FakeKube {
      override async mergePatch(key: ObjectKey, patch: unknown): Promise<KubeObject> {
        const status = (patch as { status?: { lastAppliedCommit?: string } }).status;
        if (status?.lastAppliedCommit)
          throw new KubeApiError('PATCH', '/status', 500, { reason: 'InternalError', message: 'etcdserver: request is too large' }, '');
        return super.mergePatch(key, patch);
      }
    }
    const kube = new StatusTooLarge();
    const ctx = syncContext(kube, work);
    const outcome = await syncCommit(ctx, 'big', folderSource(work, { 'deploy/1-app/120-settings.yml': configMap }));
    assert.equal(outcome.result, 'StatusWriteFailed');
    assert.match(outcome.message, /could not record it in the Pipeline's status: .*request is too large/);
    const ready = ctx.pipeline.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'StatusWriteFailed');
  });

  it('parses an unchanged commit once across syncs, and the second sync writes nothing', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    ctx.renderCache = new RenderCache();
    // Kinds that are healthy as soon as they exist: the fake runs no controllers.
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: apps\nstringData:\n  t: x\n';
    const source = folderSource(work, { 'deploy/1-app/120-settings.yml': configMap, 'deploy/1-app/60-token.yml': secret });
    assert.equal((await syncCommit(ctx, 'same', source)).result, 'Succeeded');
    assert.equal(ctx.renderCache.size, 1);
    const writes = kube.writes().length;
    const second = await syncCommit(ctx, 'same', source);
    assert.equal(second.result, 'Succeeded');
    assert.equal(second.counts.unchanged, 2);
    assert.deepEqual(kube.writes().slice(writes), []);
  });

  it('writes nothing of a new commit before its progressing status write has returned, and validates the commit meanwhile', { timeout: 20_000 }, async () => {
    /**
     * Once armed, the next status write (the progressing one) is held until a dry-run has been
     * answered and a turn of the event loop has passed; `PROGRESSING-WRITTEN` marks when it returned.
     */
    class SlowStatus extends FakeKube {
      private validated: (() => void) | undefined;
      private seen: Promise<void> | undefined;
      arm(): void {
        this.seen = new Promise<void>((resolve) => (this.validated = resolve));
      }
      override async apply(object: KubeObject, options: { dryRun?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
        const result = await super.apply(object, options);
        if (options.dryRun && this.validated) setImmediate(this.validated);
        return result;
      }
      override async mergePatch(key: ObjectKey, patch: unknown): Promise<KubeObject> {
        const seen = this.seen;
        if (key.kind !== 'Pipeline' || !seen) return super.mergePatch(key, patch);
        this.seen = undefined;
        await seen;
        const written = await super.mergePatch(key, patch);
        this.requests.push('PROGRESSING-WRITTEN');
        return written;
      }
    }
    const kube = new SlowStatus();
    const ctx = syncContext(kube, work);
    // Applied before: the new commit changes it and adds nothing (no pending-inventory write
    // between the validation and the apply).
    const source = (value: string) => folderSource(work, { 'deploy/1-app/120-settings.yml': configMap.replace('a: "1"', `a: "${value}"`) });
    assert.equal((await syncCommit(ctx, 'old', source('1'))).result, 'Succeeded');
    kube.requests.length = 0;
    kube.arm();
    const outcome = await syncCommit(ctx, 'new', source('2'));
    assert.equal(outcome.result, 'Succeeded');
    assert.equal(outcome.counts.configured, 1);
    const at = (prefix: string) => kube.requests.findIndex((r) => r.startsWith(prefix));
    assert.ok(at('DRYRUN ConfigMap/apps/settings') >= 0 && at('DRYRUN ConfigMap/apps/settings') < at('PROGRESSING-WRITTEN'), kube.requests.join('\n'));
    assert.ok(at('PROGRESSING-WRITTEN') < at('PATCH ConfigMap/apps/settings'), `applied before Ready was Unknown:\n${kube.requests.join('\n')}`);
  });

  it('lists the live objects while git is asked for the branch once this process has rendered the Pipeline, and lists each kind once', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    ctx.renderCache = new RenderCache();
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: apps\nstringData:\n  t: x\n';
    const lists = () => kube.requests.filter((r) => r.startsWith('LIST '));
    const listedBeforeResolve: string[][] = [];
    const source: PipelineSource = {
      ...folderSource(work, { 'deploy/1-app/120-settings.yml': configMap, 'deploy/1-app/60-token.yml': secret }),
      resolve: async () => {
        const before = lists().length;
        // A turn of the event loop: what was started before git was asked has been sent.
        await new Promise((resolve) => setImmediate(resolve));
        listedBeforeResolve.push(lists().slice(before));
        return 'same';
      },
    };
    ctx.source = source;
    const first = await reconcilePipeline(ctx);
    assert.equal(first.at(-1)?.result, 'Succeeded');
    const firstLists = lists().length;
    const writes = kube.writes().length;
    const second = await reconcilePipeline(ctx);
    assert.equal(second.at(-1)?.result, 'Succeeded');
    assert.deepEqual(kube.writes().slice(writes), []);
    // Nothing rendered before the first: nothing to list from.
    assert.deepEqual(listedBeforeResolve[0], []);
    assert.deepEqual([...(listedBeforeResolve[1] ?? [])].sort(), ['LIST ConfigMap/*', 'LIST Secret/*']);
    // The sync used those lists: no kind listed twice.
    assert.equal(lists().length - firstLists, 2);
  });

  it('uses the head the caller asked for early, and asks the source nothing more; a push fetches the head, a resync resolves it', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    const asked: string[] = [];
    const source: PipelineSource = {
      ...folderSource(work, { 'deploy/1-app/120-settings.yml': configMap }),
      resolve: async () => {
        asked.push('resolve');
        return 'c1';
      },
      fetchHead: async () => {
        asked.push('fetchHead');
        return 'c1';
      },
    };
    const early = askHeadEarly({ ...ctx, source, pushed: true });
    assert.ok(early);
    assert.deepEqual(asked, ['fetchHead'], 'asked before the Pipeline is read');
    const outcomes = await reconcilePipeline({ ...ctx, source: early.source, head: early.head, pushed: true });
    assert.deepEqual(
      outcomes.map((o) => [o.commit, o.result]),
      [['c1', 'Succeeded']],
    );
    assert.deepEqual(asked, ['fetchHead'], 'the sync did not ask again');
    askHeadEarly({ ...ctx, source })?.head;
    assert.deepEqual(asked, ['fetchHead', 'resolve']);
  });

  it('a head asked early that fails is recorded as when the sync asks (ArtifactFailed); no source at all is left to the sync', async () => {
    const kube = new FakeKube();
    const ctx = syncContext(kube, work);
    const source: PipelineSource = {
      ...folderSource(work, {}),
      resolve: async () => {
        throw new Error('remote: repository not found');
      },
    };
    const early = askHeadEarly({ ...ctx, source });
    const run = { ...ctx, source: early?.source, head: early?.head };
    const outcomes = await reconcilePipeline(run);
    assert.deepEqual(
      outcomes.map((o) => [o.result, o.message]),
      [['ArtifactFailed', 'remote: repository not found']],
    );
    assert.equal(run.pipeline.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'ArtifactFailed');
    // A Pipeline that follows a hub has no git source to make here.
    assert.equal(askHeadEarly({ ...ctx, spec: { ...ctx.spec, git: undefined } }), undefined);
  });
});
