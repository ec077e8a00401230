/**
 * Failures per client address in the last minute, for at most `maxClients` addresses (the
 * least recently failing are forgotten first): a client past `perMinute` is throttled until
 * its oldest failure is a minute old. Counting only failures, per address, keeps one caller
 * from locking everybody else out (the dashboard's login, the hub's enrollment).
 */
export class FailureThrottle {
  private readonly byClient = new Map<string, number[]>();

  constructor(
    private readonly perMinute = 20,
    private readonly maxClients = 10_000,
  ) {}

  /** Addresses remembered. */
  get size(): number {
    return this.byClient.size;
  }

  private recent(client: string, now: number): number[] {
    return (this.byClient.get(client) ?? []).filter((t) => t > now - 60_000);
  }

  /** How long `client` is still throttled, in ms; undefined when it is not. Counts nothing. */
  throttledFor(client: string, now: number): number | undefined {
    const recent = this.recent(client, now);
    return recent.length >= this.perMinute ? recent[0]! + 60_000 - now : undefined;
  }

  /** Counts a failure of `client`; true when it had failed `perMinute` times already (then it is not counted). */
  fail(client: string, now: number): boolean {
    const recent = this.recent(client, now);
    if (recent.length >= this.perMinute) return true;
    recent.push(now);
    // Re-inserted last: the map's order is the order of the latest failures.
    this.byClient.delete(client);
    if (this.byClient.size >= this.maxClients) this.byClient.delete(this.byClient.keys().next().value as string);
    this.byClient.set(client, recent);
    return false;
  }
}
