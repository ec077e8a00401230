/**
 * What the upstream poller writes, and when (plain data): a new revision with the bounded
 * history, a changed Ready condition, a new generation; `lastPolled` only with those or when
 * stale; nothing at all for an idle Fleet. And which Fleets a webhook wakes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Fleet, Revision } from '../../../src/api/hub.js';
import type { BundleStore } from '../../../src/hub/bundles.js';
import type { FleetCache } from '../../../src/hub/fleets.js';
import { Upstream, nextReady, statusPatch } from '../../../src/hub/upstream.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log.js';

const now = new Date('2026-12-01T12:00:00Z');
const options = { lastPolledEveryMs: 5 * 60_000, maxRevisions: 3 };
const revision = (n: number): Revision => ({
  id: `r-${n.toString(16).padStart(16, '0')}`,
  commit: 'a'.repeat(40),
  bundle: `sha256:${'b'.repeat(64)}`,
  bundleSize: 1,
  images: [],
  createdAt: '2026-11-01T00:00:00Z',
});
const ready = { type: 'Ready', status: 'True' as const, reason: 'Succeeded', message: 'ok', lastTransitionTime: '2026-11-01T00:00:00Z' };
const fleet = (status: Fleet['status'], generation = 2): Fleet => ({
  apiVersion: 'hub.doris.dev/v1alpha1',
  kind: 'Fleet',
  metadata: { name: 'f', namespace: 'hub', uid: 'u', generation },
  spec: {},
  status,
});
const { createdAt: _c, ...r1 } = revision(1);
const okOutcome = { ok: true, revision: r1, ready: { status: 'True' as const, reason: 'Succeeded' as const, message: 'ok' } };

describe('statusPatch', () => {
  it('an idle Fleet writes nothing', () => {
    const idle = fleet({ revision: revision(1), revisions: [revision(1)], conditions: [ready], observedGeneration: 2, lastPolled: '2026-12-01T11:58:00Z' });
    assert.equal(statusPatch(idle, okOutcome, now, options), undefined);
  });

  it('refreshes lastPolled alone when it is stale', () => {
    const idle = fleet({ revision: revision(1), conditions: [ready], observedGeneration: 2, lastPolled: '2026-12-01T11:54:00Z' });
    assert.deepEqual(statusPatch(idle, okOutcome, now, options), { lastPolled: now.toISOString() });
  });

  it('a new revision goes first in the bounded history, with the time it was resolved', () => {
    const before = fleet({
      revision: revision(4),
      revisions: [revision(4), revision(3), revision(2)],
      conditions: [ready],
      observedGeneration: 2,
      lastPolled: now.toISOString(),
    });
    const patch = statusPatch(before, okOutcome, now, options)!;
    assert.equal(patch.revision?.id, r1.id);
    assert.equal(patch.revision?.createdAt, now.toISOString());
    assert.deepEqual(
      patch.revisions?.map((r) => r.id),
      [revision(1).id, revision(4).id, revision(3).id],
    );
    assert.equal(patch.lastPolled, now.toISOString());
    assert.equal(patch.conditions, undefined, 'Ready unchanged: not rewritten');
  });

  it('a revert to a revision seen before keeps its first time', () => {
    const before = fleet({ revision: revision(2), revisions: [revision(2), revision(1)], conditions: [ready], observedGeneration: 2 });
    assert.equal(statusPatch(before, okOutcome, now, options)?.revision?.createdAt, '2026-11-01T00:00:00Z');
  });

  it('a refused commit changes Ready only: the revision stays', () => {
    const before = fleet({ revision: revision(1), revisions: [revision(1)], conditions: [ready], observedGeneration: 2, lastPolled: now.toISOString() });
    const patch = statusPatch(before, { ok: true, ready: { status: 'False', reason: 'BuildFailed', message: 'deploy/1-a/10-x.yml:3:5: bad' } }, now, options)!;
    assert.equal(patch.revision, undefined);
    assert.equal(patch.revisions, undefined);
    assert.deepEqual(patch.conditions, [
      { type: 'Ready', status: 'False', reason: 'BuildFailed', message: 'deploy/1-a/10-x.yml:3:5: bad', lastTransitionTime: now.toISOString() },
    ]);
  });

  it('records a new generation', () => {
    const before = fleet({ revision: revision(1), conditions: [ready], observedGeneration: 1, lastPolled: now.toISOString() }, 2);
    assert.deepEqual(statusPatch(before, okOutcome, now, options), { observedGeneration: 2, lastPolled: now.toISOString() });
  });
});

describe('nextReady', () => {
  it('keeps the transition time while the status stays, and other conditions as they are', () => {
    const other = { type: 'Other', status: 'True' as const, reason: 'X', message: 'y', lastTransitionTime: 't' };
    const next = nextReady([other, ready], { status: 'True', reason: 'Succeeded', message: 'new message' }, now)!;
    assert.deepEqual(next, [other, { ...ready, message: 'new message' }]);
    assert.equal(nextReady(next, { status: 'True', reason: 'Succeeded', message: 'new message' }, now), undefined);
  });

  it('bounds the message', () => {
    const next = nextReady(undefined, { status: 'False', reason: 'BuildFailed', message: 'x'.repeat(10_000) }, now)!;
    assert.ok(next[0]!.message.length <= 4001);
  });
});

describe('webhook matching', () => {
  const fleets = [
    {
      name: 'solar',
      spec: { git: { url: 'https://git.example.com/acme/solar.git', branch: 'main' }, images: [{ repository: 'ghcr.io/acme/solar-*', tag: 'main' }] },
    },
    { name: 'wind', spec: { git: { url: 'git@git.example.com:acme/wind', branch: 'prod' }, images: [{ repository: 'ghcr.io/acme/wind', tag: 'prod' }] } },
    { name: 'broken', spec: { git: { url: 'file:///etc' } } },
  ].map(({ name, spec }) => ({ ...fleet({}), metadata: { name, namespace: 'hub', uid: name, generation: 1 }, spec }));
  const cache = { list: () => fleets, get: (n: string) => fleets.find((f) => f.metadata.name === n), onEvent: () => undefined } as unknown as FleetCache;
  const upstream = new Upstream({
    client: {} as KubeClient,
    namespace: 'hub',
    log: createLogger({ level: 'silent' }),
    fleets: cache,
    bundles: {} as BundleStore,
    workDir: '/nonexistent',
  });

  it('a push names the Fleets following that repository at that branch, in any URL spelling', () => {
    assert.deepEqual(upstream.fleetsForPush(['ssh://git@git.example.com/acme/solar.git'], 'main'), ['solar']);
    assert.deepEqual(upstream.fleetsForPush(['https://git.example.com/acme/solar'], 'prod'), []);
    assert.deepEqual(upstream.fleetsForPush(['https://GIT.example.com/acme/wind.git', 'https://x/y'], 'prod'), ['wind']);
  });

  it('a registry push names the Fleets with a rule covering the repository', () => {
    assert.deepEqual(upstream.fleetsForImages([{ repository: 'ghcr.io/acme/solar-api', tag: 'main' }]), ['solar']);
    assert.deepEqual(upstream.fleetsForImages([{ repository: 'ghcr.io/acme/wind' }, { repository: 'ghcr.io/acme/solar-ui' }]), ['solar', 'wind']);
    assert.deepEqual(upstream.fleetsForImages([{ repository: 'ghcr.io/other/solar-api' }]), []);
  });
});

describe('leadership', () => {
  it('polls only while leading: on winning, every Fleet at once; triggers are ignored otherwise; a new spec polls again', async () => {
    const invalid = { ...fleet({}), spec: { git: { url: 'file:///etc' } } };
    let gets = 0;
    let listener: ((event: unknown) => void) | undefined;
    const cache = {
      list: () => [invalid],
      get: () => {
        gets++;
        return invalid;
      },
      onEvent: (l: (event: unknown) => void) => {
        listener = l;
      },
    } as unknown as FleetCache;
    const patches: Array<{ status: { conditions?: Array<{ reason: string; message: string }> } }> = [];
    const client = {
      mergePatch: async (_key: unknown, patch: (typeof patches)[number]) => {
        patches.push(patch);
        return { ...invalid, metadata: { ...invalid.metadata, resourceVersion: String(patches.length) } };
      },
    } as unknown as KubeClient;
    const upstream = new Upstream({
      client,
      namespace: 'hub',
      log: createLogger({ level: 'silent' }),
      fleets: cache,
      bundles: {} as BundleStore,
      workDir: '/nonexistent',
    });

    // A run starts synchronously (its first step reads the Fleet): counting reads counts runs.
    upstream.trigger('f', 'webhook');
    assert.equal(gets, 0, 'not leading: nothing runs');
    upstream.setLeading(true);
    assert.equal(gets, 1, 'leadership won: every Fleet polled at once');
    const deadline = Date.now() + 5000;
    while (patches.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(patches[0]?.status.conditions?.[0]?.reason, 'InvalidSpec');
    assert.match(patches[0]!.status.conditions![0]!.message, /spec\.git\.url/);
    // An invalid spec is not polled again until it changes.
    listener!({ type: 'upsert', fleet: invalid });
    assert.equal(gets, 1, 'same generation: no new poll');
    listener!({ type: 'upsert', fleet: { ...invalid, metadata: { ...invalid.metadata, generation: 3 } } });
    while (gets < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(gets, 2, 'a new generation polls again');
    await upstream.stop(Date.now() + 5000);
    upstream.trigger('f', 'webhook');
    upstream.setLeading(false);
    assert.equal(gets, 2, 'stopped: nothing runs');
  });
});
