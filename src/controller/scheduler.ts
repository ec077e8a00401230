/**
 * When each Pipeline's work runs. A key (a Pipeline's name) runs at once when triggered
 * (discovered, spec changed, webhook, leadership won), then again after its interval, spread
 * by ± `jitter` so that a fleet of devices does not poll one git server in lockstep. After a
 * failure it retries after a backoff that doubles per consecutive failure, capped at a number
 * of intervals (jittered too, so a fleet that failed together does not retry together).
 *
 * One run per key at a time: a trigger during a run asks for exactly one more run right after
 * it, however many triggers arrive. At most `maxConcurrent` runs work at once; the others wait
 * in the order they were triggered. A run that only waits (a wave's health wait, which may last
 * its whole timeout) does so through `aside`, which gives its slot to the next run and takes
 * one back, ahead of the queue, before the run goes on: a Pipeline stuck in a wave, or as many
 * of them as there are slots, delays no other. What the bound still bounds is the work (render,
 * lists, writes) and so the memory of runs doing it; a run waiting aside keeps its own.
 *
 * The scheduler knows nothing of git or Kubernetes: it calls `run(key, signal, aside)` and
 * reads back whether the run succeeded and when the key wants to run next. `pause()` is the way out
 * (leadership lost, shutdown): no timers, no queue, runs in flight are told to stop through
 * their signal, and `drain()` says when they have.
 */

/** The longest delay node's timers take (2^31 - 1 ms, about 24.8 days). */
export const maxTimerMs = 2 ** 31 - 1;

/**
 * Runs `work` without holding a slot, and takes one back before it returns (or throws): the
 * run goes on only when it is among the `maxConcurrent` again.
 */
export type Aside = <T>(work: () => Promise<T>) => Promise<T>;

/** What a run tells the scheduler. */
export interface RunResult {
  ok: boolean;
  /** The key's interval; undefined: do not run again until triggered (deleted, suspended, invalid). */
  intervalMs?: number;
}

export interface SchedulerOptions {
  /** Runs of different keys at once. */
  maxConcurrent: number;
  /** Delays are spread by ± this fraction of themselves (0 ≤ jitter < 1). */
  jitter: number;
  /** Delay after the first failure; doubles per further failure, up to `maxBackoffIntervals` intervals. */
  backoffMs: number;
  /** The backoff's cap, in intervals (1: never wait longer than the interval). */
  maxBackoffIntervals: number;
  /** The interval assumed after a run that threw (a run should report its failures instead). */
  fallbackIntervalMs: number;
  /** Uniform in [0, 1): the source of jitter (tests pass a fixed one). */
  random: () => number;
}

export function defaultSchedulerOptions(): SchedulerOptions {
  return { maxConcurrent: 4, jitter: 0.1, backoffMs: 5_000, maxBackoffIntervals: 1, fallbackIntervalMs: 60_000, random: Math.random };
}

/** `ms` spread by ± `jitter`: within [ms·(1−jitter), ms·(1+jitter)]. */
export function jittered(ms: number, jitter: number, random: () => number): number {
  return Math.round(ms * (1 - jitter + random() * 2 * jitter));
}

/** The delay before the next run: the interval after a success, a capped doubling backoff after `failures` failures. */
export function nextDelay(
  result: { ok: boolean; intervalMs: number },
  failures: number,
  options: Pick<SchedulerOptions, 'backoffMs' | 'maxBackoffIntervals' | 'jitter' | 'random'>,
): number {
  const cap = result.intervalMs * options.maxBackoffIntervals;
  const base = result.ok ? result.intervalMs : Math.min(cap, options.backoffMs * 2 ** Math.max(0, failures - 1));
  return jittered(base, options.jitter, options.random);
}

interface Slot {
  state: 'idle' | 'queued' | 'running';
  timer?: NodeJS.Timeout;
  /** A trigger arrived during the run. */
  rerun: boolean;
  /** Consecutive failed runs. */
  failures: number;
  abort?: AbortController;
}

export class Scheduler {
  private readonly slots = new Map<string, Slot>();
  private readonly queue: string[] = [];
  /**
   * Runs not finished, per run: a key forgotten and triggered again (a Pipeline deleted and
   * re-created) may still have its old run stopping.
   */
  private readonly inFlight = new Map<Slot, { key: string; done: Promise<void> }>();
  /** Runs holding a slot: those in flight less those waiting aside. */
  private working = 0;
  /** Runs back from waiting aside, for a slot; served before the queue. */
  private readonly returning: Array<() => void> = [];
  private enabled = false;

  constructor(
    private readonly run: (key: string, signal: AbortSignal, aside: Aside) => Promise<RunResult>,
    private readonly options: SchedulerOptions = defaultSchedulerOptions(),
    /** Told about a run that threw, and why each run was queued (logs). */
    private readonly observer: { threw?: (key: string, error: unknown) => void; triggered?: (key: string, why: string) => void } = {},
  ) {}

  /** Accepts triggers from now on. */
  resume(): void {
    this.enabled = true;
  }

  /** No new runs: timers and the queue are cleared, runs in flight are signalled to stop. */
  pause(): void {
    this.enabled = false;
    this.queue.length = 0;
    for (const slot of this.slots.values()) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.rerun = false;
      if (slot.state === 'queued') slot.state = 'idle';
      slot.abort?.abort();
    }
  }

  /** Keys whose run has not finished yet. */
  get running(): string[] {
    return [...this.inFlight.values()].map((r) => r.key);
  }

  /** True when the key has a run in flight, queued, or a timer set. */
  isScheduled(key: string): boolean {
    const slot = this.slots.get(key);
    return slot !== undefined && (slot.state !== 'idle' || slot.timer !== undefined);
  }

  /**
   * Resolves when no run is in flight, or at `deadline` (epoch ms) with the keys still
   * running. Runs were asked to stop by `pause()`; one that cannot stop sooner is left behind.
   */
  async drain(deadline = Number.POSITIVE_INFINITY): Promise<string[]> {
    while (this.inFlight.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining)));
      await Promise.race([Promise.allSettled([...this.inFlight.values()].map((r) => r.done)), timeout]);
      clearTimeout(timer);
    }
    return this.running;
  }

  private slot(key: string): Slot {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { state: 'idle', rerun: false, failures: 0 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Runs `key` as soon as a slot is free (once more after the run in flight, if any). */
  trigger(key: string, why: string): void {
    if (!this.enabled) return;
    const slot = this.slot(key);
    if (slot.state === 'running') {
      slot.rerun = true;
      return;
    }
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.state === 'queued') return;
    slot.state = 'queued';
    this.queue.push(key);
    this.observer.triggered?.(key, why);
    this.pump();
  }

  /** Runs `key` after `delayMs`, unless it is already scheduled or running. */
  after(key: string, delayMs: number, why: string): void {
    if (!this.enabled || this.isScheduled(key)) return;
    // node fires a longer timeout at once (1 ms): an interval of 1000h would run continuously.
    this.slot(key).timer = setTimeout(
      () => {
        const slot = this.slots.get(key);
        if (slot) slot.timer = undefined;
        this.trigger(key, why);
      },
      Math.min(delayMs, maxTimerMs),
    );
  }

  /** The key is gone: no more runs, its run in flight is told to stop. */
  forget(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    if (slot.timer) clearTimeout(slot.timer);
    slot.abort?.abort();
    this.slots.delete(key);
    const queued = this.queue.indexOf(key);
    if (queued >= 0) this.queue.splice(queued, 1);
  }

  private pump(): void {
    // Even when paused: a run that was waiting aside must be able to go on and stop.
    while (this.returning.length > 0 && this.working < this.options.maxConcurrent) {
      this.working += 1;
      this.returning.shift()!();
    }
    const running = new Set(this.running);
    for (let i = 0; this.enabled && this.working < this.options.maxConcurrent && i < this.queue.length; ) {
      const key = this.queue[i]!;
      const slot = this.slots.get(key);
      if (slot?.state !== 'queued') {
        this.queue.splice(i, 1);
        continue;
      }
      // The run of a forgotten slot of this key is still stopping: one run of a key at a time.
      if (running.has(key)) {
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      running.add(key);
      this.start(key, slot);
    }
  }

  private release(): void {
    this.working -= 1;
    this.pump();
  }

  private start(key: string, slot: Slot): void {
    slot.state = 'running';
    slot.abort = new AbortController();
    const signal = slot.abort.signal;
    this.working += 1;
    let holding = true;
    let ended = false;
    const aside: Aside = async (work) => {
      // Only from inside the run, one at a time: otherwise it is just `work`.
      if (!holding || ended) return work();
      holding = false;
      this.release();
      try {
        return await work();
      } finally {
        if (!ended) {
          await new Promise<void>((resolve) => {
            this.returning.push(resolve);
            this.pump();
          });
          holding = true;
          // The run did not wait for this: it ended meanwhile, so the slot just taken is free.
          if (ended) this.release();
        }
      }
    };
    const done = (async () => {
      let result: RunResult;
      try {
        result = await this.run(key, signal, aside);
      } catch (error) {
        this.observer.threw?.(key, error);
        result = { ok: false, intervalMs: this.options.fallbackIntervalMs };
      }
      ended = true;
      if (holding) this.working -= 1;
      this.inFlight.delete(slot);
      slot.state = 'idle';
      slot.abort = undefined;
      slot.failures = result.ok ? 0 : slot.failures + 1;
      // Forgotten or paused meanwhile: nothing follows (a trigger after a resume still reruns).
      if (this.slots.get(key) === slot && this.enabled) {
        if (slot.rerun) {
          slot.rerun = false;
          this.trigger(key, 'triggered during the last run');
        } else if (!signal.aborted && result.intervalMs !== undefined) {
          this.after(key, nextDelay({ ok: result.ok, intervalMs: result.intervalMs }, slot.failures, this.options), result.ok ? 'interval' : 'retry');
        }
      }
      this.pump();
    })();
    this.inFlight.set(slot, { key, done });
  }
}
