/**
 * Early marking only while the heap is small (src/install/nodeflags.ts).
 *
 * `--incremental-marking-hard-trigger=10` makes V8 start marking as soon as the old generation
 * holds a tenth of its allocation limit: the heap stays near its live size, which is what
 * keeps a 1,000-object sync under 64 MiB. But the limit follows the live size, so the trigger
 * is always reached and V8 marks all the time; marking costs in proportion to what is live,
 * and at 10,000 objects it doubled the CPU of a no-op resync (2.8 s against 1.3 s). There the
 * heap is far from the memory limit anyway.
 *
 * So after each full collection, where what the heap holds is close to what is live, the
 * trigger is turned off above `offAboveMiB` and back on below `onBelowMiB`. The gap keeps it
 * from switching at every collection; a heap that crosses both in each sync (some 5,000
 * objects: about 20 MiB between syncs, 38 during one) switches twice a sync. V8 reads the flag each time it checks its limits, so `setFlagsFromString`
 * takes effect at the next check; node documents changing flags after start-up as unsupported
 * in general, which is why this touches that one flag only and is measured by the scale
 * benchmark (`npm run bench -- scale`), which runs DORIS with the image's flags.
 *
 * It acts only when the process was started with the flag (the image's ENTRYPOINT, the
 * benchmarks): a `doris` started without it keeps V8's defaults.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Live heap above which early marking is turned off. A 1,000-object sync peaks at about 18 MiB. */
export const offAboveMiB = 32;
/** Live heap below which it is turned back on. */
export const onBelowMiB = 24;

const MiB = 1024 * 1024;
const flagPattern = /^--incremental[-_]marking[-_]hard[-_]trigger=(\d+)$/;

export interface MarkingState {
  /** The trigger the process was started with (percent). */
  trigger: number;
  on: boolean;
  /** How many times it was turned off or on. */
  switches: number;
  /** The largest heap seen right after a full collection, MiB. */
  liveMaxMiB: number;
}

/** The early-marking trigger in node's options (the last one counts, as for V8), or undefined when absent or 0. */
export function triggerOf(execArgv: readonly string[]): number | undefined {
  let trigger: number | undefined;
  for (const arg of execArgv) {
    const match = flagPattern.exec(arg);
    if (match) trigger = Number(match[1]);
  }
  return trigger ? trigger : undefined;
}

/** Whether early marking should be on, given whether it is and the heap after a full collection. */
export function nextMarking(on: boolean, liveMiB: number): boolean {
  if (on && liveMiB > offAboveMiB) return false;
  if (!on && liveMiB < onBelowMiB) return true;
  return on;
}

let state: MarkingState | undefined;

/** Starts adapting (once per process); undefined when the process was not started with the flag. */
export function adaptMarking(execArgv: readonly string[] = process.execArgv): MarkingState | undefined {
  if (state) return state;
  const trigger = triggerOf(execArgv);
  if (trigger === undefined) return undefined;
  const current: MarkingState = { trigger, on: true, switches: 0, liveMaxMiB: 0 };
  state = current;
  const observer = new PerformanceObserver((list) => {
    const entries = list.getEntries() as Array<{ detail?: { kind?: number } }>;
    if (!entries.some((e) => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return;
    // Read now, not from the entry: an entry carries no sizes. What was allocated since the
    // collection counts too, which errs towards turning early marking off.
    const live = v8.getHeapStatistics().used_heap_size / MiB;
    current.liveMaxMiB = Math.max(current.liveMaxMiB, Math.round(live * 10) / 10);
    const on = nextMarking(current.on, live);
    if (on === current.on) return;
    v8.setFlagsFromString(`--incremental-marking-hard-trigger=${on ? trigger : 0}`);
    current.on = on;
    current.switches += 1;
  });
  observer.observe({ entryTypes: ['gc'] });
  return current;
}
