/**
 * How the long-running commands (`doris run`, `doris hub`) stop on SIGTERM or SIGINT: the
 * caller's own stop, inside a budget after which the process exits whatever happens; a second
 * signal exits at once. Once stopped, the event loop should drain by itself; if it does not,
 * the process exits anyway, naming what still holds it.
 */
import type { Logger } from '../log.js';

export interface Stopped {
  /** Added to the `stopped` log line. */
  fields?: Record<string, unknown>;
  /** Work that can never finish and would keep the process alive: exit now, naming it. */
  leftBehind?: string;
}

/** Resolves once a signal's shutdown has run; `stop` gets the time the signal arrived. */
export function untilSignalled(log: Logger, exitMs: number, stop: (started: number) => Promise<Stopped>): Promise<void> {
  return new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      process.on(signal, () => exitNow(log, 'a second signal'));
      const started = Date.now();
      log.info({ signal }, 'shutting down');
      // The backstop: nothing below may keep the process past the promise.
      setTimeout(() => exitNow(log, 'the shutdown took too long'), exitMs).unref();
      stop(started)
        .then(({ fields, leftBehind }) => {
          log.info({ ms: Date.now() - started, ...fields }, 'stopped');
          if (leftBehind) exitNow(log, leftBehind);
          else setTimeout(() => exitNow(log, 'something still holds the event loop'), 250).unref();
        })
        .catch((error: unknown) => {
          log.error({ err: (error as Error).message }, 'shutdown failed');
          exitNow(log, 'the shutdown failed');
        })
        .finally(resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/**
 * Exit 0 now. Reached only when the event loop would not drain by itself: the log line names
 * what still holds it, so that a leak shows up in the logs instead of as a pod that hangs.
 */
function exitNow(log: Logger, why: string): void {
  log.warn({ why, pending: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap') }, 'exiting with work pending');
  process.exit(0);
}
