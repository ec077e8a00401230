/**
 * The rollout arithmetic, with simulated agents: each online agent runs the revision it is
 * told, then reports Ready=True, or Ready=False (HealthCheckFailed) on a bad revision. A
 * fake clock; no timers, no cluster.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Revision } from '../../../src/api/hub.js';
import { offlineAfterMs } from '../../../src/api/hub.js';
import { type DeviceView, type RolloutCommand, type RolloutStatus, referencedRevisions, step, type Transition } from '../../../src/hub/rollout/engine.js';
import { parseRolloutPolicy } from '../../../src/hub/rollout/policy.js';
import { nextRevisions, revisionId, revisionsReferenced } from '../../../src/hub/revision.js';

const bundle = `sha256:${'b'.repeat(64)}`;
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const commit = (n: number) => n.toString(16).padStart(40, 'c');
/** A revision id as the hub computes it: a commit plus the tracked images' digests. */
const rev = (c: number, d = 1) => revisionId(commit(c), bundle, [{ repository: 'registry.test/app', digest: digest(d) }]);

interface SimDevice extends DeviceView {
  silent?: boolean;
  /** A revision this device fails on, besides the fleet-wide bad ones. */
  failsOn?: Set<string>;
}

class Sim {
  now = new Date('2026-12-01T12:00:00.000Z');
  state: RolloutStatus | undefined;
  newest: string | undefined;
  targets = new Map<string, string>();
  events: Transition[] = [];
  readonly devices = new Map<string, SimDevice>();
  readonly bad = new Set<string>();

  constructor(public rollout: unknown) {}

  add(name: string, labels: Record<string, string> = {}, extra: Partial<SimDevice> = {}): this {
    this.devices.set(name, { name, labels, lastSeen: this.now.toISOString(), ...extra });
    return this;
  }

  step(command?: RolloutCommand) {
    const result = step({
      policy: parseRolloutPolicy(this.rollout),
      state: this.state,
      newest: this.newest ? { id: this.newest } : undefined,
      devices: [...this.devices.values()],
      now: this.now,
      command,
    });
    this.state = result.state;
    this.targets = result.targets;
    this.events.push(...result.transitions);
    return result;
  }

  /** Every online agent runs its target and reports. */
  agents(): void {
    for (const device of this.devices.values()) {
      if (device.silent) continue;
      device.lastSeen = this.now.toISOString();
      const target = this.targets.get(device.name);
      if (!target) continue;
      const fails = this.bad.has(target) || device.failsOn?.has(target);
      device.report = fails ? { revision: target, ready: 'False', reason: 'HealthCheckFailed' } : { revision: target, ready: 'True', reason: 'Succeeded' };
    }
  }

  /** Engine and agents until nothing moves. */
  settle(command?: RolloutCommand): void {
    this.step(command);
    for (let i = 0; i < 20; i++) {
      const before = JSON.stringify([...this.targets]);
      this.agents();
      this.step();
      if (JSON.stringify([...this.targets]) === before) return;
    }
    assert.fail('the rollout did not settle');
  }

  push(id: string): void {
    this.newest = id;
  }

  tick(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  /** Devices on each revision, by name. */
  on(id: string): string[] {
    return [...this.targets].filter(([, r]) => r === id).map(([d]) => d);
  }

  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }

  stage(name: string) {
    const s = this.state?.stages.find((x) => x.name === name);
    assert.ok(s, `stage ${name}`);
    return s;
  }
}

const canaryPolicy = (extra: Record<string, unknown> = {}, soak = '10m') => ({
  ...extra,
  stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1, soak }],
});

/** canary: 1 device; the rest: 4 devices (the implicit last stage). Revision A fully rolled out. */
function fleet(extra: Record<string, unknown> = {}, soak = '10m'): Sim {
  const sim = new Sim(canaryPolicy(extra, soak));
  sim.add('c1', { ring: 'canary' });
  for (const n of [1, 2, 3, 4]) sim.add(`d${n}`);
  sim.push(rev(1));
  sim.settle();
  assert.equal(sim.state?.state, 'Complete');
  sim.events = [];
  return sim;
}

const A = rev(1);
const B = rev(2);
const C = rev(3);
const minute = 60_000;

describe('rollout engine', () => {
  it('without a policy, every device gets the newest revision at once', () => {
    const sim = new Sim(undefined).add('a', { ring: 'canary' }).add('b');
    sim.push(A);
    sim.settle();
    sim.push(B);
    sim.settle();
    assert.deepEqual(sim.on(B).sort(), ['a', 'b']);
    assert.equal(sim.state?.state, 'Complete');
    assert.equal(sim.state?.lastGood, B);
  });

  it('takes the first revision under a policy as rolled out: nothing older to protect', () => {
    const sim = new Sim(canaryPolicy()).add('c1', { ring: 'canary' }).add('d1');
    sim.push(A);
    sim.step();
    assert.deepEqual(sim.on(A).sort(), ['c1', 'd1']);
    assert.deepEqual([sim.state?.state, sim.state?.lastGood], ['Complete', A]);
  });

  it('has no targets before any revision', () => {
    const sim = new Sim(canaryPolicy()).add('c1');
    const result = sim.step();
    assert.equal(result.state, undefined);
    assert.equal(result.targets.size, 0);
  });

  it('gives a new commit to the canary first, the rest only after it is ready and has soaked', () => {
    const sim = fleet();
    sim.push(B);
    sim.settle();
    assert.deepEqual(sim.on(B), ['c1']);
    assert.deepEqual(sim.on(A).sort(), ['d1', 'd2', 'd3', 'd4']);
    assert.equal(sim.stage('canary').ready, 1);
    assert.ok(sim.stage('canary').readyAt);
    assert.deepEqual(sim.reasons(), ['RolloutStarted', 'StageStarted', 'StageReady']);
    const result = sim.step();
    assert.equal(result.wakeAt?.toISOString(), new Date(Date.parse(sim.stage('canary').readyAt as string) + 10 * minute).toISOString());

    sim.tick(10 * minute - 1);
    sim.settle();
    assert.deepEqual(sim.on(B), ['c1'], 'not before the soak has passed');

    sim.tick(1);
    sim.settle();
    assert.deepEqual(sim.on(B).sort(), ['c1', 'd1', 'd2', 'd3', 'd4']);
    assert.equal(sim.state?.state, 'Complete');
    assert.equal(sim.state?.lastGood, B);
    assert.equal(sim.state?.stageIndex, 2);
    assert.equal(sim.state?.stage, undefined);
    assert.deepEqual(sim.reasons().slice(3), ['StageCompleted', 'StageStarted', 'StageCompleted', 'RolloutCompleted']);
    assert.deepEqual(
      sim.state?.stages.map((s) => [s.name, s.devices, s.updated, s.ready, s.failed, s.offline]),
      [
        ['canary', 1, 1, 1, 0, 0],
        ['(rest)', 4, 4, 4, 0, 0],
      ],
    );
  });

  it('counts a report toward a revision only when the hub served the device that revision', () => {
    const sim = fleet();
    sim.push(B);
    sim.step();
    const c1 = sim.devices.get('c1') as SimDevice;
    // The hub still served it A: whatever it claims about B counts for nothing, good or bad.
    c1.servedRevision = A;
    c1.report = { revision: B, ready: 'True', reason: 'Succeeded' };
    sim.step();
    assert.deepEqual([sim.stage('canary').updated, sim.stage('canary').ready], [0, 0]);
    assert.deepEqual(sim.on(B), ['c1'], 'the rest waits');
    c1.report = { revision: B, ready: 'False', reason: 'HealthCheckFailed' };
    sim.step();
    assert.equal(sim.state?.state, 'Progressing', 'no halt on a failure of a revision it was not served');
    c1.servedRevision = B;
    c1.report = { revision: B, ready: 'True', reason: 'Succeeded' };
    sim.step();
    assert.deepEqual([sim.stage('canary').updated, sim.stage('canary').ready], [1, 1]);
  });

  it('starts a rollout for a new image digest under the same commit', () => {
    const sim = fleet();
    const sameCommitNewDigest = rev(1, 2);
    assert.notEqual(sameCommitNewDigest, A);
    sim.push(sameCommitNewDigest);
    sim.settle();
    assert.deepEqual(sim.on(sameCommitNewDigest), ['c1']);
    assert.equal(sim.state?.state, 'Progressing');
    assert.equal(sim.events[0]?.reason, 'RolloutStarted');
  });

  it('changes nothing when run again on its own output', () => {
    const sim = fleet();
    sim.push(B);
    sim.settle();
    const before = structuredClone(sim.state);
    const result = sim.step();
    assert.deepEqual(result.transitions, []);
    assert.deepEqual(result.state, before);
  });

  it('needs 2 of 3 at 50% (percents of minReady round up)', () => {
    const sim = new Sim({ stages: [{ name: 'wave', selector: { matchLabels: { w: '1' } }, minReady: '50%' }] });
    for (const n of [1, 2, 3]) sim.add(`w${n}`, { w: '1' });
    sim.add('rest');
    sim.push(A);
    sim.settle();
    sim.push(B);
    sim.bad.add(B); // nobody becomes ready; maxFailures would halt, so report Progressing instead
    sim.step();
    const report = (name: string, ready: 'True' | 'False', reason = 'Succeeded') => {
      const d = sim.devices.get(name) as SimDevice;
      d.report = { revision: B, ready, reason };
    };
    report('w1', 'True');
    report('w2', 'False', 'Progressing');
    report('w3', 'False', 'Progressing');
    sim.step();
    assert.equal(sim.state?.stage, 'wave', '1 of 3 is not 50%');
    assert.match(sim.state?.message ?? '', /1 of 3 online device\(s\) ready on .*, 2 needed/);
    report('w2', 'True');
    sim.step();
    assert.equal(sim.stage('wave').completedAt !== undefined, true, '2 of 3 is');
    assert.deepEqual(sim.on(B).sort(), ['rest', 'w1', 'w2', 'w3']);
  });

  it('with minReady 0% completes a stage without waiting for anyone', () => {
    const sim = new Sim({ stages: [{ name: 'first', selector: { matchLabels: { w: '1' } }, minReady: '0%' }] }).add('w1', { w: '1' }).add('r1');
    sim.push(A);
    sim.settle();
    sim.push(B);
    sim.step();
    assert.deepEqual(sim.on(B).sort(), ['r1', 'w1'], 'both stages got it in one step');
  });

  it('reads a count as devices and clamps it to the stage size', () => {
    const sim = new Sim({ stages: [{ name: 'first', selector: { matchLabels: { w: '1' } }, minReady: 5 }] })
      .add('w1', { w: '1' })
      .add('w2', { w: '1' })
      .add('r1');
    sim.push(A);
    sim.settle();
    sim.push(B);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete', 'a count of 5 in a stage of 2 means both');
  });

  it('skips empty stages, saying so', () => {
    const sim = new Sim({
      stages: [
        { name: 'nobody', selector: { matchLabels: { ring: 'none' } }, soak: '1h' },
        { name: 'canary', selector: { matchLabels: { ring: 'canary' } }, soak: '0s' },
      ],
    }).add('c1', { ring: 'canary' });
    sim.push(A);
    sim.settle();
    sim.events = [];
    sim.push(B);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
    assert.equal(sim.stage('nobody').skipped, 'empty');
    assert.equal(sim.stage('(rest)').skipped, 'empty');
    assert.ok(sim.events.some((e) => e.reason === 'StageSkipped' && e.message === 'stage nobody has no devices: skipped'));
  });

  it('puts a device in the FIRST stage whose selector matches', () => {
    const sim = new Sim({
      stages: [
        { name: 'canary', selector: { matchLabels: { ring: 'canary' } } },
        { name: 'north', selector: { matchLabels: { site: 'north' } } },
      ],
    }).add('x', { ring: 'canary', site: 'north' });
    sim.push(A);
    const result = sim.step();
    assert.equal(result.stageOf.get('x'), 'canary');
  });

  it('lets a device that moves to another stage follow that stage at once', () => {
    const sim = fleet({}, '1h');
    sim.push(B);
    sim.settle();
    assert.deepEqual(sim.on(B), ['c1']);
    (sim.devices.get('d1') as SimDevice).labels = { ring: 'canary' }; // promoted to canary
    (sim.devices.get('c1') as SimDevice).labels = {}; // demoted to the rest
    sim.settle();
    assert.deepEqual(sim.on(B), ['d1']);
    assert.deepEqual(sim.on(A).sort(), ['c1', 'd2', 'd3', 'd4']);
    assert.equal(sim.stage('canary').devices, 1);
    assert.equal(sim.stage('(rest)').devices, 4);
  });

  it('supersedes a rollout mid-soak: the newer revision starts at the first stage, later stages keep the last good one', () => {
    const sim = new Sim({
      stages: [
        { name: 'canary', selector: { matchLabels: { ring: 'canary' } }, soak: '0s' },
        { name: 'early', selector: { matchLabels: { ring: 'early' } }, soak: '1h' },
      ],
    })
      .add('c1', { ring: 'canary' })
      .add('e1', { ring: 'early' })
      .add('d1');
    sim.push(A);
    sim.settle();
    sim.push(B);
    sim.settle();
    assert.deepEqual(sim.on(B).sort(), ['c1', 'e1'], 'B soaking in early');
    sim.tick(10 * minute);
    sim.agents(); // still polling
    sim.tick(10 * minute);
    sim.push(C);
    sim.events = [];
    sim.step();
    assert.deepEqual(sim.on(C), ['c1']);
    assert.deepEqual(sim.on(B), ['e1'], 'early keeps B until C reaches it');
    assert.deepEqual(sim.on(A), ['d1']);
    assert.equal(sim.state?.lastGood, A, 'B never completed');
    assert.match(sim.events[0]?.message ?? '', /supersedes .* \(which had reached stage early\)/);
    assert.equal(sim.stage('early').readyAt, undefined, 'the old soak does not carry over');
    sim.settle();
    sim.tick(60 * minute);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
    assert.deepEqual(sim.on(C).sort(), ['c1', 'd1', 'e1']);
    assert.deepEqual([...referencedRevisions(sim.state)], [C]);
  });

  it('does not complete a soak while paused; resume completes it', () => {
    const sim = fleet();
    sim.push(B);
    sim.settle();
    sim.tick(5 * minute);
    sim.settle('pause');
    assert.equal(sim.state?.state, 'Paused');
    sim.tick(20 * minute);
    sim.settle();
    assert.deepEqual(sim.on(B), ['c1'], 'frozen while paused, though the soak has passed');
    sim.push(C);
    sim.settle();
    assert.equal(sim.state?.revision, B, 'a newer revision waits for resume');
    sim.push(B);
    sim.settle('resume');
    assert.equal(sim.state?.state, 'Complete');
    assert.deepEqual(sim.on(B).length, 5);
    assert.deepEqual(sim.reasons().slice(-5), ['RolloutResumed', 'StageCompleted', 'StageStarted', 'StageCompleted', 'RolloutCompleted']);
  });

  it('starts a newer revision that arrived while paused once resumed', () => {
    const sim = fleet();
    sim.push(B);
    sim.settle();
    sim.settle('pause');
    sim.push(C);
    sim.settle('resume');
    assert.equal(sim.state?.revision, C);
    assert.deepEqual(sim.on(C), ['c1']);
  });

  it('promote marks the current stage done now', () => {
    const sim = fleet({}, '1h');
    sim.push(B);
    sim.settle();
    sim.settle('promote');
    assert.equal(sim.stage('canary').skipped, 'promoted');
    assert.equal(sim.state?.state, 'Complete');
    assert.ok(sim.reasons().includes('StagePromoted'));
  });

  it('abort gives every device the last good revision back; resume restarts at the first stage', () => {
    const sim = fleet({}, '1h');
    sim.push(B);
    sim.settle();
    sim.settle('abort');
    assert.equal(sim.state?.state, 'Halted');
    assert.equal(sim.state?.aborted, true);
    assert.deepEqual(sim.on(A).length, 5);
    assert.equal(sim.events.at(-1)?.type, 'Warning');
    sim.settle('promote');
    assert.equal(sim.events.at(-1)?.reason, 'RolloutCommandIgnored');
    sim.settle('resume');
    assert.equal(sim.state?.state, 'Progressing');
    assert.deepEqual(sim.on(B), ['c1']);
  });

  it('ignores commands that do not apply, saying why', () => {
    const sim = fleet();
    sim.settle('promote');
    sim.settle('pause');
    sim.settle('resume');
    sim.settle('abort');
    assert.deepEqual(
      sim.events.map((e) => e.message),
      ['promote: the rollout is Complete', 'pause: the rollout is Complete', 'resume: the rollout is Complete', 'abort: the rollout is Complete'],
    );
  });

  it('halts at the canary without autoRollback: the canary keeps the bad revision, the rest the last good one', () => {
    const sim = fleet();
    sim.bad.add(B);
    sim.push(B);
    sim.settle();
    assert.equal(sim.state?.state, 'Halted');
    assert.deepEqual(sim.on(B), ['c1']);
    assert.deepEqual(sim.on(A).sort(), ['d1', 'd2', 'd3', 'd4']);
    assert.equal(sim.stage('canary').failed, 1);
    const halt = sim.events.find((e) => e.reason === 'RolloutHalted');
    assert.match(halt?.message ?? '', /stage canary: 1 of 1 online device\(s\) failed on r-[0-9a-f]{16} \(maxFailures 0 allows 0\): later stages keep r-/);
    assert.equal(halt?.type, 'Warning');
    assert.equal(sim.state?.haltedBecause, halt?.message);
    assert.equal(sim.state?.message, `halted: ${halt?.message}`);
    sim.tick(24 * 60 * minute);
    sim.settle();
    assert.equal(sim.state?.state, 'Halted', 'halted stays halted');
    assert.deepEqual([...referencedRevisions(sim.state)].sort(), [A, B].sort());
  });

  it('halts and rolls the canary back with autoRollback', () => {
    const sim = fleet({ autoRollback: true });
    sim.bad.add(B);
    sim.push(B);
    sim.settle();
    assert.equal(sim.state?.state, 'Halted');
    assert.equal(sim.state?.rolledBack, true);
    assert.match(
      sim.state?.message ?? '',
      /^halted: stage canary: 1 of 1 online device\(s\) failed on .*; the stage went back to r-/,
      'says why, though the canary reports the last good revision now',
    );
    assert.deepEqual(sim.on(A).length, 5, 'the canary is back on A');
    assert.deepEqual(sim.reasons(), ['RolloutStarted', 'StageStarted', 'RolloutHalted', 'RolledBack']);
    // A fixed revision rolls out again from the first stage.
    sim.push(C);
    sim.settle();
    assert.deepEqual(sim.on(C), ['c1']);
    assert.equal(sim.state?.state, 'Progressing');
  });

  it('tolerates failures up to maxFailures (10% of 20 is 2)', () => {
    const sim = new Sim({ stages: [{ name: 'wave', selector: { matchLabels: { w: '1' } }, minReady: '80%', maxFailures: '10%' }] });
    for (let n = 0; n < 20; n++) sim.add(`w${n}`, { w: '1' });
    sim.push(A);
    sim.settle();
    sim.push(B);
    for (const n of [0, 1]) (sim.devices.get(`w${n}`) as SimDevice).failsOn = new Set([B]);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete', '2 failures are tolerated');
    sim.push(C);
    for (const n of [0, 1, 2]) (sim.devices.get(`w${n}`) as SimDevice).failsOn = new Set([C]);
    sim.settle();
    assert.equal(sim.state?.state, 'Halted', 'a third one halts');
  });

  it('resume retries a halted stage; promote overrides the halt', () => {
    const sim = fleet({ autoRollback: true });
    sim.bad.add(B);
    sim.push(B);
    sim.settle();
    sim.bad.delete(B); // the cause went away (a registry outage, say)
    sim.settle('resume');
    assert.equal(sim.state?.state, 'Progressing');
    assert.deepEqual(sim.on(B), ['c1']);

    const other = fleet({ autoRollback: true });
    other.bad.add(B);
    other.push(B);
    other.settle();
    other.settle('promote');
    assert.equal(other.stage('canary').skipped, 'promoted');
    assert.equal(other.state?.state, 'Halted', 'the rest fail on B too, and halt there');
    assert.equal(other.state?.stage, '(rest)');
    assert.deepEqual(other.on(A).sort(), ['d1', 'd2', 'd3', 'd4'], 'rolled back');
    assert.deepEqual(other.on(B), ['c1'], 'the promoted canary keeps B');
  });

  it('does not wait for offline devices, nor count them as failed', () => {
    const sim = fleet({}, '0s');
    sim.bad.add(B);
    const d4 = sim.devices.get('d4') as SimDevice;
    d4.silent = true;
    sim.tick(offlineAfterMs + 1);
    sim.bad.delete(B);
    (sim.devices.get('d3') as SimDevice).failsOn = undefined;
    d4.report = { revision: B, ready: 'False', reason: 'HealthCheckFailed' }; // stale, and offline
    sim.push(B);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
    assert.deepEqual([sim.stage('(rest)').offline, sim.stage('(rest)').failed, sim.stage('(rest)').ready], [1, 0, 3]);
    assert.equal(sim.targets.get('d4'), B, 'told its target for when it returns');
  });

  it('counts a device silent for exactly offlineAfterMs as online, one millisecond later as offline', () => {
    const sim = fleet({}, '0s');
    sim.push(B);
    sim.step();
    const c1 = sim.devices.get('c1') as SimDevice;
    c1.report = { revision: B, ready: 'False', reason: 'Progressing' };
    c1.lastSeen = sim.now.toISOString();
    c1.silent = true;
    sim.tick(offlineAfterMs);
    const result = sim.step();
    assert.equal(sim.stage('canary').offline, 0);
    assert.equal(result.wakeAt?.getTime(), sim.now.getTime() + 1, 'wakes when the device turns offline');
    sim.tick(1);
    sim.step();
    assert.equal(sim.stage('canary').skipped, 'offline');
  });

  it('skips a stage whose devices are all offline, and a device never seen is offline', () => {
    const sim = fleet({}, '1h');
    (sim.devices.get('c1') as SimDevice).silent = true;
    sim.tick(offlineAfterMs + 1);
    sim.add('new', { ring: 'canary' }, { lastSeen: undefined, silent: true });
    sim.push(B);
    sim.settle();
    assert.equal(sim.stage('canary').skipped, 'offline');
    assert.ok(sim.events.some((e) => e.message.includes('all 2 device(s) are offline: skipped')));
    assert.equal(sim.state?.state, 'Complete');
  });

  it('keeps the stage state when the policy gains a stage', () => {
    const sim = fleet({}, '1h');
    sim.push(B);
    sim.settle();
    sim.rollout = {
      stages: [
        { name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1, soak: '1h' },
        { name: 'second', selector: { matchLabels: { ring: 'second' } } },
      ],
    };
    (sim.devices.get('d1') as SimDevice).labels = { ring: 'second' };
    sim.settle();
    assert.deepEqual(sim.on(B), ['c1']);
    assert.equal(sim.targets.get('d1'), A, 'the new stage starts on the last good revision');
    sim.tick(60 * minute);
    sim.settle();
    assert.equal(sim.state?.state, 'Complete');
  });

  it('steps a stage of 200,000 online devices', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const devices = Array.from({ length: 200_000 }, (_, i) => ({ name: `d${i}`, labels: {}, lastSeen: now.toISOString() }));
    const policy = parseRolloutPolicy({ stages: [{ name: 'all', selector: {} }] });
    const first = step({ policy, state: undefined, newest: { id: A }, devices, now });
    const result = step({ policy, state: first.state, newest: { id: B }, devices, now });
    assert.equal(result.targets.size, 200_000);
    assert.equal(result.wakeAt?.getTime(), now.getTime() + offlineAfterMs + 1, 'when the devices would turn offline');
  });

  it('names every revision it refers to, so that status.revisions keeps them', () => {
    const sim = fleet();
    sim.bad.add(B);
    sim.push(B);
    sim.settle();
    assert.deepEqual([...referencedRevisions(sim.state)].sort(), [A, B].sort());
    sim.push(C);
    sim.step();
    const refs = referencedRevisions(sim.state);
    assert.deepEqual([...refs].sort(), [A, C].sort(), 'nobody is told B any more');
    for (const id of refs) assert.ok(revisionsReferenced(sim.state).has(id));
    // Eleven newer revisions later, the last good one (A) is still kept.
    const revision = (id: string, n: number): Revision => ({ id, commit: commit(n), bundle, bundleSize: 1, images: [], createdAt: '' });
    let kept: Revision[] = [revision(A, 1), revision(B, 2)];
    for (let n = 3; n < 14; n++) kept = nextRevisions(revision(n === 3 ? C : rev(n), n), kept, sim.state);
    assert.ok(kept.some((r) => r.id === A));
    assert.ok(!kept.some((r) => r.id === B), 'an unreferenced old revision is collected');
  });
});
