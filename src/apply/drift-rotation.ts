/**
 * Which Secrets that DORIS may write but not read a resync checks for drift.
 *
 * Such a Secret can only be checked one request at a time (apply/preflight.ts: the peek that
 * compares its resourceVersion with the one recorded at its last apply), and the request
 * costs the API server about a millisecond whatever its shape. A Pipeline of 10,000 objects
 * has near 3,000 Secrets: checking every one on every interval would make each no-op resync
 * take seconds of the API server's time. A rotation bounds the checks of one sync: when a
 * Pipeline has more unreadable Secrets than the bound, a sync checks the ones checked least
 * recently (never-checked first), and the others count as unchanged until their turn. Every
 * Secret is still checked within ceil(secrets / bound) syncs, and one the rotation chose
 * that was edited by hand is put back in the same sync (ADR 0004).
 *
 * The state lives in the controller's memory, one rotation per Pipeline: after a restart the
 * order starts again from the top, which only changes which Secrets come first.
 */
import { compareStrings } from '../compare.js';

export class DriftRotation {
  /** Per object id, the number of the sync that last chose it. */
  private checkedIn = new Map<string, number>();
  private syncs = 0;

  /** `limit` 0 checks every Secret in every sync. */
  constructor(readonly limit: number) {}

  /**
   * The ids (of `candidates`, the unreadable Secrets git did not change) that this sync
   * checks; call once per sync. Ids no longer among the candidates are forgotten.
   */
  choose(candidates: readonly string[]): Set<string> {
    this.syncs += 1;
    const chosen =
      this.limit === 0 || candidates.length <= this.limit
        ? candidates
        : [...candidates].sort((a, b) => (this.checkedIn.get(a) ?? 0) - (this.checkedIn.get(b) ?? 0) || compareStrings(a, b)).slice(0, this.limit);
    const next = new Map<string, number>();
    for (const id of candidates) next.set(id, this.checkedIn.get(id) ?? 0);
    for (const id of chosen) next.set(id, this.syncs);
    this.checkedIn = next;
    return new Set(chosen);
  }
}

/** A no-op resync checks at most this many unreadable Secrets (`doris run --drift-checks-per-sync`). */
export const defaultDriftChecksPerSync = 1000;
