/**
 * Which rollout transitions are told to a Fleet's receivers, once, and what the bodies say:
 * the real engine stepped with plain data (simulated reports, a fixed clock), then
 * planNotices, then the shared formats (generic, slack, github) — no cluster, no network.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Device, fleetSpecSchema, type Revision } from '../../../src/api/hub.js';
import { fleetCrd } from '../../../src/hub/crds.js';
import { type RolloutCommand, type RolloutStatus, step, type Transition } from '../../../src/hub/rollout/engine.js';
import { noticeKey, type NoticePlan, planNotices, quotedFailures, storedNotified } from '../../../src/hub/rollout/notify.js';
import { parseRolloutPolicy } from '../../../src/hub/rollout/policy.js';
import { genericBody } from '../../../src/notify/generic.js';
import { githubRequest } from '../../../src/notify/github.js';
import { slackText } from '../../../src/notify/slack.js';
import type { Notification } from '../../../src/notify/types.js';

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16)}`,
  commit: String(n).repeat(40),
  bundle: `sha256:${String(n).repeat(64)}`,
  bundleSize: 1,
  images: [{ rule: 'app', repository: 'registry.test/app', tag: 'main', digest: `sha256:${String(n + 1).repeat(64)}` }],
  createdAt: '2026-12-01T12:00:00.000Z',
});
const [A, B, C] = [1, 2, 3].map(revision) as [Revision, Revision, Revision];

/** A Fleet with a canary stage, simulated agents and the notifications sent so far (keys carried as the driver writes them). */
class Sim {
  now = new Date('2026-12-01T12:00:00.000Z');
  state: RolloutStatus | undefined;
  newest: Revision = A;
  notified: string[] = [];
  sent: Notification[] = [];
  readonly bad = new Set<string>();
  readonly devices: Device[] = [];
  stageOf = new Map<string, string>();
  targets = new Map<string, string>();

  constructor(
    names: string[],
    private readonly rollout: unknown = { autoRollback: true, stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1 }] },
  ) {
    for (const name of names) {
      this.devices.push({
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Device',
        metadata: { name, namespace: 'hub', labels: name.startsWith('canary') ? { ring: 'canary' } : {} },
        spec: { fleet: 'solar', tokenHash: '' },
        status: { lastSeen: this.now.toISOString() },
      });
    }
  }

  step(command?: RolloutCommand): { transitions: Transition[]; plan: NoticePlan } {
    const previous = this.state;
    const result = step({
      policy: parseRolloutPolicy(this.rollout),
      state: previous,
      newest: { id: this.newest.id },
      devices: this.devices.map((d) => ({
        name: d.metadata.name,
        labels: d.metadata.labels ?? {},
        ...(d.status?.report ? { report: d.status.report } : {}),
        lastSeen: this.now.toISOString(),
      })),
      now: this.now,
      command,
    });
    this.state = result.state;
    this.targets = result.targets;
    this.stageOf = result.stageOf;
    const plan = planNotices({
      fleet: { namespace: 'hub', name: 'solar' },
      previous,
      next: result.state as RolloutStatus,
      transitions: result.transitions,
      notified: this.notified,
      revisions: [A, B, C],
      devices: this.devices,
      stageOf: result.stageOf,
      now: this.now,
    });
    this.notified = plan.notified;
    this.sent.push(...plan.notifications);
    return { transitions: result.transitions, plan };
  }

  /** Every agent runs its target and reports (a bad revision: HealthCheckFailed). */
  agents(): void {
    for (const d of this.devices) {
      const target = this.targets.get(d.metadata.name);
      if (!target) continue;
      const failed = this.bad.has(target);
      d.status = {
        ...d.status,
        report: {
          revision: target,
          ready: failed ? 'False' : 'True',
          reason: failed ? 'HealthCheckFailed' : 'Succeeded',
          message: failed ? `Deployment/app on ${d.metadata.name}: 0 of 1 replicas available` : 'applied',
          images: [],
          agentVersion: '0.1.0',
        },
      };
    }
  }

  /** Steps and lets the agents act until the rollout stops moving. */
  settle(): void {
    for (let i = 0; i < 10; i++) {
      const { transitions } = this.step();
      this.agents();
      if (transitions.length === 0) return;
    }
  }

  kinds(): string[] {
    return this.sent.map((n) => `${n.kind}@${n.fleet?.revision.id.slice(2, 3)}${n.fleet?.stage ? `/${n.fleet.stage}` : ''}`);
  }
}

describe('which rollout transitions are told', () => {
  it('the first revision under a policy is not news; a staged rollout that completes is, once', () => {
    const sim = new Sim(['canary-1', 'edge-1', 'edge-2']);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
    assert.deepEqual(sim.kinds(), []);
    sim.newest = B;
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
    assert.deepEqual(sim.kinds(), ['RolloutCompleted@2']);
    // Resyncs change nothing and say nothing.
    sim.settle();
    sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutCompleted@2']);
    assert.deepEqual(sim.notified, [noticeKey(B.id, 'RolloutCompleted')]);
  });

  it('a halt and its rollback are told once however often the driver steps, with the stage, counts and failing devices', () => {
    const sim = new Sim(['canary-1', 'canary-2', 'edge-1']);
    sim.settle();
    sim.bad.add(C.id);
    sim.newest = C;
    sim.settle();
    assert.equal(sim.state?.state, 'Halted');
    for (let i = 0; i < 5; i++) sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutHalted@3/canary', 'RolledBack@3/canary']);
    const halt = sim.sent[0] as Notification;
    assert.equal(halt.commit, C.commit);
    assert.equal(halt.cluster, 'hub');
    assert.deepEqual(halt.fleet?.counts, { devices: 2, updated: 2, ready: 0, failed: 2, offline: 0 });
    assert.deepEqual(
      halt.fleet?.failures?.map((f) => [f.device, f.reason]),
      [
        ['canary-1', 'HealthCheckFailed'],
        ['canary-2', 'HealthCheckFailed'],
      ],
    );
    assert.equal(halt.fleet?.lastGood, A.id);
    assert.deepEqual(halt.fleet?.revision.images, [{ repository: 'registry.test/app', tag: 'main', digest: C.images[0]?.digest }]);
  });

  it('the same halt again after resume (a human retried) is news; after a new leader with the stored keys it is not', () => {
    const sim = new Sim(['canary-1', 'edge-1']);
    sim.settle();
    sim.bad.add(B.id);
    sim.newest = B;
    sim.step(); // the canary gets B
    sim.agents(); // and fails on it
    // What a new leader whose cache lags would step from: the status before the halt, the same reports.
    const stale = structuredClone(sim.state as RolloutStatus);
    const reports = sim.devices.map((d) => ({
      name: d.metadata.name,
      labels: d.metadata.labels ?? {},
      report: d.status?.report,
      lastSeen: sim.now.toISOString(),
    }));
    sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutHalted@2/canary', 'RolledBack@2/canary']);
    const before = sim.sent.length;
    const staleStep = step({
      policy: parseRolloutPolicy({ autoRollback: true, stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1 }] }),
      state: stale,
      newest: { id: B.id },
      devices: reports,
      now: sim.now,
    });
    assert.ok(
      staleStep.transitions.some((t) => t.reason === 'RolloutHalted'),
      'the stale leader sees the halt again',
    );
    const again = planNotices({
      fleet: { namespace: 'hub', name: 'solar' },
      previous: stale,
      next: staleStep.state as RolloutStatus,
      transitions: staleStep.transitions,
      notified: storedNotified({ notified: sim.notified }),
      revisions: [A, B],
      devices: sim.devices,
      stageOf: staleStep.stageOf,
      now: sim.now,
    });
    assert.deepEqual(again.notifications, []);
    assert.equal(sim.sent.length, before);

    // resume retries the stage: the canary fails again, which is told again.
    sim.step('resume');
    sim.agents();
    sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutHalted@2/canary', 'RolledBack@2/canary', 'RolloutHalted@2/canary', 'RolledBack@2/canary']);
  });

  it('an abort is told with the stage it stopped at; a newer revision drops the older keys', () => {
    const sim = new Sim(['canary-1', 'edge-1']);
    sim.settle();
    sim.newest = B;
    sim.step(); // the canary gets B; the agents stay away
    sim.step('abort');
    assert.deepEqual(sim.kinds(), ['RolloutAborted@2/canary']);
    sim.step();
    assert.deepEqual(sim.kinds(), ['RolloutAborted@2/canary']);
    sim.newest = C;
    sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutAborted@2/canary', 'RolloutCompleted@3']);
    assert.deepEqual(sim.notified, [noticeKey(C.id, 'RolloutCompleted')]);
  });

  it('a Fleet without a policy tells each new revision once it went to every device; a Fleet without devices tells nothing', () => {
    const sim = new Sim(['edge-1'], undefined);
    sim.settle();
    sim.newest = B;
    sim.settle();
    assert.deepEqual(sim.kinds(), ['RolloutCompleted@2']);
    const empty = new Sim([]);
    empty.settle();
    empty.newest = B;
    empty.settle();
    assert.equal(empty.state?.state, 'Complete');
    assert.deepEqual(empty.kinds(), []);
  });

  it('quotes at most a few failing devices, by name', () => {
    const names = Array.from({ length: 12 }, (_, i) => `canary-${String(i).padStart(2, '0')}`);
    const sim = new Sim(names);
    sim.settle();
    sim.bad.add(B.id);
    sim.newest = B;
    sim.settle();
    const halt = sim.sent.find((n) => n.kind === 'RolloutHalted');
    assert.equal(halt?.fleet?.failures?.length, quotedFailures);
    assert.deepEqual(
      halt?.fleet?.failures?.map((f) => f.device),
      names.slice(0, quotedFailures),
    );
    assert.equal(halt?.fleet?.counts?.failed, 12);
  });

  it('reads stored keys defensively (hand-written status)', () => {
    for (const raw of [undefined, null, 'x', { notified: 'x' }, { notified: [1, null] }]) assert.deepEqual(storedNotified(raw), []);
    assert.deepEqual(storedNotified({ notified: ['a', 2, 'b'] }), ['a', 'b']);
  });
});

describe('rollout notification bodies (the shared formats)', () => {
  const sim = new Sim(['canary-1', 'edge-1']);
  sim.settle();
  sim.bad.add(B.id);
  sim.newest = B;
  sim.settle();
  sim.bad.clear();
  sim.newest = C;
  sim.settle();
  const [halt, , complete] = sim.sent as [Notification, Notification, Notification];

  it('generic: the Fleet, the revision (commit and digests), the stage and the failures; no pipeline', () => {
    const body = JSON.parse(genericBody(halt)) as Record<string, unknown>;
    assert.equal(body.kind, 'RolloutHalted');
    assert.equal(body.cluster, 'hub');
    assert.equal(body.commit, B.commit);
    assert.equal(body.pipeline, undefined);
    const fleet = body.fleet as Record<string, unknown>;
    assert.equal(fleet.name, 'solar');
    assert.equal(fleet.stage, 'canary');
    assert.deepEqual(fleet.revision, {
      id: B.id,
      commit: B.commit,
      bundle: B.bundle,
      images: [{ repository: 'registry.test/app', tag: 'main', digest: B.images[0]?.digest }],
    });
    assert.match(String(body.message), /stage canary: 1 of 1 online device\(s\) failed/);
    assert.deepEqual(fleet.failures, [{ device: 'canary-1', reason: 'HealthCheckFailed', message: 'Deployment/app on canary-1: 0 of 1 replicas available' }]);
  });

  it('github: failure on a halt and success on completion, context doris/hub/<fleet>; rollback and abort set no status', () => {
    const receiver = { type: 'github' as const, secretRef: { name: 't' }, apiUrl: 'http://127.0.0.1:1/api/v3' };
    const h = githubRequest(receiver, halt, 'tok', 'https://github.com/acme/fleet.git');
    assert.ok(!('skip' in h));
    assert.equal(h.url, `http://127.0.0.1:1/api/v3/repos/acme/fleet/statuses/${B.commit}`);
    assert.deepEqual({ ...JSON.parse(h.body), description: undefined }, { state: 'failure', context: 'doris/hub/solar', description: undefined });
    const c = githubRequest(receiver, complete, 'tok', 'https://github.com/acme/fleet.git');
    assert.ok(!('skip' in c));
    assert.equal(JSON.parse(c.body).state, 'success');
    assert.equal(c.url.endsWith(`/statuses/${C.commit}`), true);
    const rolledBack = sim.sent[1] as Notification;
    assert.equal(rolledBack.kind, 'RolledBack');
    assert.ok('skip' in githubRequest(receiver, rolledBack, 'tok', 'https://github.com/acme/fleet.git'));
  });

  it('slack: names hub/<fleet>, the stage and the failing devices, escaped', () => {
    const text = slackText({
      ...halt,
      fleet: { ...(halt.fleet as NonNullable<Notification['fleet']>), failures: [{ device: 'd<1>', reason: 'X', message: 'a & b' }] },
    });
    assert.match(text, /^:octagonal_sign: \*hub\/solar\* RolloutHalted `2{12}` stage canary \(RolloutHalted\)/);
    assert.match(text, /• d&lt;1&gt;: X: a &amp; b/);
  });
});

describe('Fleet spec.notify (hostile input)', () => {
  const git = { url: 'https://git.example/fleet.git' };
  const refused: Array<[unknown, RegExp]> = [
    [[{ type: 'teams', url: 'https://h.example/' }], /type/],
    [[{ type: 'generic', url: 'http://10.0.0.1/hook', secretRef: { name: 's' } }], /only to loopback/],
    [[{ type: 'generic', url: 'https://user:pw@h.example/', secretRef: { name: 's' } }], /without credentials/],
    [[{ type: 'generic', url: 'https://h.example/' }], /needs a secretRef/],
    [[{ type: 'github', secretRef: { name: 't' }, token: 'inline' }], /token|Unrecognized/],
    ['https://h.example/', /array/],
    [Array.from({ length: 21 }, () => ({ type: 'slack', url: 'https://h.example/' })), /20/],
  ];
  for (const [notify, message] of refused) {
    it(`refused: ${JSON.stringify(notify).slice(0, 100)}`, () => {
      const parsed = fleetSpecSchema.safeParse({ git, notify });
      assert.equal(parsed.success, false);
      const text = parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? '';
      assert.match(text, message);
      assert.match(text, /^notify/);
    });
  }

  it('accepts the three types and keeps them in the parsed spec', () => {
    const notify = [
      { type: 'generic', url: 'https://hooks.example/doris', secretRef: { name: 'hook' } },
      { type: 'slack', secretRef: { name: 'slack' } },
      { type: 'github', secretRef: { name: 'gh' }, apiUrl: 'https://ghe.example/api/v3' },
    ];
    const parsed = fleetSpecSchema.parse({ git, notify });
    assert.deepEqual(parsed.notify, notify);
    assert.deepEqual(fleetSpecSchema.parse({ git }).notify, []);
  });

  it('is in the Fleet CRD schema, with descriptions', () => {
    const crd = fleetCrd() as unknown as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, Record<string, unknown>> } } } } }> };
    };
    const notify = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties.notify as {
      maxItems: number;
      description: string;
      items: { properties: Record<string, { description?: string; enum?: string[] }> };
    };
    assert.equal(notify.maxItems, 20);
    assert.match(notify.description, /hub namespace/);
    assert.deepEqual(notify.items.properties.type?.enum, ['generic', 'slack', 'github']);
    for (const key of ['type', 'url', 'secretRef', 'apiUrl', 'targetUrl']) assert.ok(notify.items.properties[key]?.description, key);
  });
});
