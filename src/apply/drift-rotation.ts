/**
 * Which Secrets that DORIS may write but not read a resync checks for drift.
 *
 * Such a Secret can only be checked one request at a time (apply/preflight.ts: the peek that
 * compares its resourceVersion with the one recorded at its last apply), and the request
 * costs the API server about a millisecond whatever its shape. Checking every one in every
 * interval makes the API server's time for a no-op resync grow with the Pipeline: at 1,000
 * objects of the benchmark mix (280 Secrets) those checks are most of the no-op, at 10,000
 * (2,890 Secrets) seconds of it. So the checks are spread: with a period (`doris run
 * --drift-check-period`, default 5 minutes), a sync at the Pipeline's interval checks its share
 * of them, ceil(secrets × interval / period), the ones checked least recently (never-checked
 * first); the others count as unchanged until their turn. Every Secret is thus checked about
 * once a period (sooner when pushes or retries sync more often), a hand edit is put back when
 * its turn comes (ADR 0004), and one sync never checks more than a hard bound
 * (`--drift-checks-per-sync`).
 *
 * The state lives in the controller's memory, one rotation per Pipeline, and a restart begins
 * it again. It begins at a random point of the Secrets in name order: were it to begin at the
 * first name, a controller restarted more often than once a period (a crash loop, an eviction
 * a day on a busy node) would check the same first Secrets after every start and never the last.
 */
import { compareStrings } from '../compare.js';

export class DriftRotation {
  /** Per object id, the number of the sync that last chose it. */
  private checkedIn = new Map<string, number>();
  private syncs = 0;

  /**
   * The Pipeline's sync interval, which sets a sync's share of a period; the controller
   * updates it before each sync (the spec or `--poll-interval` may change it).
   */
  intervalMs?: number;

  /**
   * `limit` 0 checks every Secret in every sync, whatever the period; a `periodMs` of 0 or no
   * longer than the interval checks up to `limit` in every sync. `start`, in [0, 1): where in
   * the name order the Secrets never checked begin (random unless a test fixes it).
   */
  constructor(
    readonly limit: number,
    readonly periodMs = 0,
    private readonly start = Math.random(),
  ) {}

  /** How many of `secrets` candidates one sync checks. */
  private bound(secrets: number): number {
    if (this.limit === 0) return secrets;
    const { intervalMs, periodMs } = this;
    const share = periodMs > 0 && intervalMs !== undefined && intervalMs < periodMs ? Math.ceil((secrets * intervalMs) / periodMs) : secrets;
    return Math.min(this.limit, share);
  }

  /**
   * The ids (of `candidates`, the unreadable Secrets git did not change) that this sync
   * checks; call once per sync. Ids no longer among the candidates are forgotten.
   */
  choose(candidates: readonly string[]): Set<string> {
    this.syncs += 1;
    const bound = this.bound(candidates.length);
    const chosen = candidates.length <= bound ? candidates : this.leastRecent(candidates, bound);
    const next = new Map<string, number>();
    for (const id of candidates) next.set(id, this.checkedIn.get(id) ?? 0);
    for (const id of chosen) next.set(id, this.syncs);
    this.checkedIn = next;
    return new Set(chosen);
  }

  /** The `bound` candidates checked least recently; ties in name order from `start` round. */
  private leastRecent(candidates: readonly string[], bound: number): string[] {
    const byName = [...candidates].sort(compareStrings);
    const offset = Math.floor(this.start * byName.length);
    const rank = new Map(byName.map((id, i) => [id, (i - offset + byName.length) % byName.length]));
    const last = (id: string) => this.checkedIn.get(id) ?? 0;
    return byName.sort((a, b) => last(a) - last(b) || rank.get(a)! - rank.get(b)!).slice(0, bound);
  }
}

/** A no-op resync checks at most this many unreadable Secrets (`doris run --drift-checks-per-sync`). */
export const defaultDriftChecksPerSync = 1000;

/** Every unreadable Secret is checked about once in this period (`doris run --drift-check-period`). */
export const defaultDriftCheckPeriodMs = 5 * 60_000;
