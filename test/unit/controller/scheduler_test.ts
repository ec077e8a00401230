/** The scheduler's timing, on node's mock clock: backoff, jitter, reruns, the concurrency bound, pause. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { type Aside, Scheduler, jittered, maxTimerMs, nextDelay, type RunResult, type SchedulerOptions } from '../../../src/controller/scheduler.js';

const options = (overrides: Partial<SchedulerOptions> = {}): SchedulerOptions => ({
  maxConcurrent: 4,
  jitter: 0,
  backoffMs: 1_000,
  maxBackoffIntervals: 1,
  fallbackIntervalMs: 60_000,
  random: () => 0.5,
  ...overrides,
});

/** Lets promise callbacks queued by a tick run. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A run function whose calls are recorded (with the mock clock's time) and finish when told. */
function recorder(result: RunResult | ((n: number) => RunResult)) {
  const calls: Array<{ key: string; at: number; signal: AbortSignal; aside: Aside; finish: () => void }> = [];
  let now = 0;
  const run = (key: string, signal: AbortSignal, aside: Aside) =>
    new Promise<RunResult>((resolve) => {
      const n = calls.length;
      calls.push({ key, at: now, signal, aside, finish: () => resolve(typeof result === 'function' ? result(n) : result) });
    });
  const advance = (ms: number) => {
    now += ms;
    mock.timers.tick(ms);
  };
  return { calls, run, advance };
}

describe('scheduler delays', () => {
  it('backoff doubles per failure and is capped at the interval', () => {
    const o = options({ backoffMs: 1_000 });
    const delays = [1, 2, 3, 4, 5, 6, 7].map((failures) => nextDelay({ ok: false, intervalMs: 20_000 }, failures, o));
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
    assert.equal(nextDelay({ ok: true, intervalMs: 20_000 }, 0, o), 20_000, 'a success waits the interval');
  });

  it('the cap can be several intervals (image polls)', () => {
    const o = options({ backoffMs: 5_000, maxBackoffIntervals: 10 });
    assert.deepEqual(
      [1, 2, 3].map((f) => nextDelay({ ok: false, intervalMs: 200 }, f, o)),
      [2_000, 2_000, 2_000],
    );
  });

  it('jitter stays within ± its fraction, and reaches both ends', () => {
    for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
      const d = jittered(60_000, 0.1, () => r);
      assert.ok(d >= 54_000 && d <= 66_000, `${d} for random ${r}`);
    }
    assert.equal(
      jittered(60_000, 0.1, () => 0),
      54_000,
    );
    assert.equal(
      jittered(60_000, 0.1, () => 0.999999),
      66_000,
    );
    // Backoffs are spread too, inside the same bounds.
    const spread = [0, 0.999999].map((r) => nextDelay({ ok: false, intervalMs: 60_000 }, 2, options({ jitter: 0.2, random: () => r })));
    assert.deepEqual(spread, [1_600, 2_400]);
  });
});

describe('Scheduler', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('runs at once when triggered, then every interval', async () => {
    const r = recorder({ ok: true, intervalMs: 10_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'test');
    assert.equal(r.calls.length, 1);
    r.calls[0]!.finish();
    await settle();
    r.advance(9_999);
    assert.equal(r.calls.length, 1, 'not before the interval');
    r.advance(1);
    assert.equal(r.calls.length, 2);
    assert.equal(r.calls[1]!.at, 10_000);
  });

  it('after failures, retries with a growing backoff capped at the interval, and resets on success', async () => {
    let fail = 5;
    const r = recorder(() => ({ ok: fail-- <= 0, intervalMs: 10_000 }));
    const s = new Scheduler(r.run, options({ backoffMs: 1_000 }));
    s.resume();
    s.trigger('a', 'test');
    const gaps: number[] = [];
    for (let i = 0; i < 7; i++) {
      r.calls.at(-1)!.finish();
      await settle();
      const before = r.calls.length;
      const at = r.calls.at(-1)!.at;
      let waited = 0;
      while (r.calls.length === before) {
        r.advance(500);
        waited += 500;
        assert.ok(waited <= 20_000, 'a next run was scheduled');
      }
      gaps.push(r.calls.at(-1)!.at - at);
    }
    // Failures 1..5: 1 s, 2 s, 4 s, 8 s, then capped at 10 s; then successes: the interval.
    assert.deepEqual(gaps, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  });

  it('a trigger during a run reruns once right after it, however many arrive', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'first');
    for (let i = 0; i < 5; i++) s.trigger('a', 'during');
    assert.equal(r.calls.length, 1, 'never two runs of one key at once');
    r.calls[0]!.finish();
    await settle();
    assert.equal(r.calls.length, 2, 'exactly one rerun');
    r.calls[1]!.finish();
    await settle();
    r.advance(59_999);
    assert.equal(r.calls.length, 2, 'then the interval again');
    r.advance(1);
    assert.equal(r.calls.length, 3);
  });

  it('a trigger replaces the pending timer instead of adding a run', async () => {
    const r = recorder({ ok: true, intervalMs: 10_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'first');
    r.calls[0]!.finish();
    await settle();
    r.advance(3_000);
    s.trigger('a', 'webhook');
    assert.equal(r.calls.length, 2);
    r.calls[1]!.finish();
    await settle();
    r.advance(9_999);
    assert.equal(r.calls.length, 2, 'the old timer is gone');
    r.advance(1);
    assert.equal(r.calls.length, 3);
  });

  it('never runs more than maxConcurrent keys at once; the rest follow in trigger order', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 2 }));
    s.resume();
    for (const key of ['a', 'b', 'c', 'd', 'e']) s.trigger(key, 'test');
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b'],
    );
    assert.deepEqual(s.running.sort(), ['a', 'b']);
    r.calls[1]!.finish();
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'c'],
    );
    r.calls[0]!.finish();
    r.calls[2]!.finish();
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.equal(s.running.length, 2);
  });

  it('a run waiting aside gives its slot to the next; back, it goes on before the queue, within the bound', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 1 }));
    s.resume();
    for (const key of ['a', 'b', 'c']) s.trigger(key, 'test');
    let waited!: () => void;
    const steps: string[] = [];
    // 'a' waits aside (a wave's health wait), then goes on and ends.
    const a = r.calls[0]!;
    void a
      .aside(() => new Promise<void>((resolve) => (waited = resolve)))
      .then(() => {
        steps.push('a goes on');
        a.finish();
      });
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b'],
      "'b' runs in the slot 'a' left",
    );
    waited();
    await settle();
    assert.deepEqual(steps, [], "'a' is back but 'b' holds the one slot");
    r.calls[1]!.finish();
    await settle();
    assert.deepEqual(steps, ['a goes on'], "'a' takes the slot 'b' left, ahead of the queued 'c'");
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'c'],
      "'c' starts when 'a' has ended",
    );
    assert.deepEqual(s.running, ['c']);
  });

  it('every run may wait aside at once; a run that throws aside still takes its slot back', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 2 }));
    s.resume();
    for (const key of ['a', 'b', 'c', 'd']) s.trigger(key, 'test');
    const fails: Array<() => void> = [];
    const outcome: string[] = [];
    for (const c of r.calls.slice(0, 2)) {
      void c
        .aside(() => new Promise<void>((_, reject) => fails.push(() => reject(new Error('timed out')))))
        .catch((error: Error) => outcome.push(`${c.key}: ${error.message}`));
    }
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'c', 'd'],
      'two runs waiting aside hold neither slot',
    );
    for (const fail of fails) fail();
    await settle();
    assert.deepEqual(outcome, [], "'c' and 'd' hold both slots: the failed waits are not back yet");
    r.calls[2]!.finish();
    await settle();
    assert.deepEqual(outcome, ['a: timed out']);
    r.calls[3]!.finish();
    await settle();
    assert.deepEqual(outcome, ['a: timed out', 'b: timed out']);
    assert.deepEqual(s.running.sort(), ['a', 'b']);
  });

  it('a run waiting aside when paused goes on and ends; nothing new starts', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 1 }));
    s.resume();
    s.trigger('a', 'test');
    let waited!: () => void;
    const a = r.calls[0]!;
    void a.aside(() => new Promise<void>((resolve) => (waited = resolve))).then(() => a.finish());
    s.trigger('b', 'test');
    await settle();
    s.trigger('c', 'queued');
    s.pause();
    assert.equal(a.signal.aborted, true);
    let drained: string[] | undefined;
    void s.drain().then((left) => (drained = left));
    waited();
    await settle();
    assert.equal(drained, undefined, "'a' waits for the slot 'b' holds");
    r.calls[1]!.finish();
    await settle();
    assert.deepEqual(drained, []);
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b'],
    );
  });

  it('a result without an interval schedules nothing more', async () => {
    const r = recorder({ ok: true });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'test');
    r.calls[0]!.finish();
    await settle();
    r.advance(24 * 3_600_000);
    assert.equal(r.calls.length, 1);
    assert.equal(s.isScheduled('a'), false);
  });

  it('a run that throws is retried after the backoff', async () => {
    let n = 0;
    const s = new Scheduler(
      async () => {
        n += 1;
        throw new Error('boom');
      },
      options({ backoffMs: 1_000, fallbackIntervalMs: 30_000 }),
    );
    s.resume();
    s.trigger('a', 'test');
    await settle();
    mock.timers.tick(999);
    assert.equal(n, 1);
    mock.timers.tick(1);
    await settle();
    assert.equal(n, 2);
  });

  it('pause signals runs in flight, clears timers and the queue; drain waits for the runs', async () => {
    const r = recorder({ ok: true, intervalMs: 1_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 1 }));
    s.resume();
    s.trigger('a', 'test');
    s.trigger('b', 'queued');
    s.pause();
    assert.equal(r.calls[0]!.signal.aborted, true);
    s.trigger('c', 'after pause');
    let drained: string[] | undefined;
    void s.drain().then((left) => (drained = left));
    await settle();
    assert.equal(drained, undefined, 'the run in flight is awaited');
    r.calls[0]!.finish();
    await settle();
    assert.deepEqual(drained, []);
    r.advance(60_000);
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a'],
      'nothing ran after the pause',
    );
  });

  it('drain gives up at its deadline and names what is still running', async () => {
    mock.timers.reset();
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const r = recorder({ ok: true, intervalMs: 1_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('stuck', 'test');
    s.pause();
    let left: string[] | undefined;
    void s.drain(2_000).then((v) => (left = v));
    await settle();
    mock.timers.tick(1_999);
    await settle();
    assert.equal(left, undefined);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(left, ['stuck']);
  });

  it('a rerun asked for after a resume survives the pause that aborted the run', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'first');
    s.pause();
    s.resume();
    s.trigger('a', 'leader again');
    r.calls[0]!.finish();
    await settle();
    assert.equal(r.calls.length, 2);
    assert.equal(r.calls[1]!.signal.aborted, false);
  });

  it("waits node's longest timer for a longer delay (node would fire it after 1 ms)", async () => {
    const r = recorder({ ok: true, intervalMs: 1000 * 3_600_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.after('a', 1000 * 3_600_000, 'test');
    r.advance(maxTimerMs - 1);
    assert.equal(r.calls.length, 0);
    r.advance(1);
    assert.equal(r.calls.length, 1);
  });

  it('a key forgotten and triggered again during its run waits for the old run; the bound counts both', async () => {
    const r = recorder({ ok: true, intervalMs: 60_000 });
    const s = new Scheduler(r.run, options({ maxConcurrent: 2 }));
    s.resume();
    s.trigger('a', 'test');
    s.forget('a');
    s.trigger('a', 're-created');
    s.trigger('b', 'test');
    s.trigger('c', 'test');
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b'],
      'two runs of one key at once, or past the bound',
    );
    assert.deepEqual(s.running.sort(), ['a', 'b']);
    r.calls[0]!.finish();
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'a'],
    );
    r.calls[1]!.finish();
    r.calls[2]!.finish();
    await settle();
    assert.deepEqual(
      r.calls.map((c) => c.key),
      ['a', 'b', 'a', 'c'],
    );
    r.calls[3]!.finish();
    assert.deepEqual(await s.drain(), []);
  });

  it('forget stops a key: its run is signalled and nothing follows', async () => {
    const r = recorder({ ok: true, intervalMs: 1_000 });
    const s = new Scheduler(r.run, options());
    s.resume();
    s.trigger('a', 'test');
    s.forget('a');
    assert.equal(r.calls[0]!.signal.aborted, true);
    r.calls[0]!.finish();
    await settle();
    r.advance(10_000);
    assert.equal(r.calls.length, 1);
  });
});
