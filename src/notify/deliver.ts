/**
 * Sending one request: a POST with a timeout, retried with exponential backoff (and jitter)
 * on network errors, 408, 429 and 5xx — honouring Retry-After up to the backoff cap — and not
 * retried on other answers, which retrying cannot change. Redirects are not followed: the
 * request may carry a token, and must reach only the host it was meant for.
 */
import type { OutgoingRequest } from './types.js';

export interface RetryOptions {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

export const defaultRetryOptions: RetryOptions = { attempts: 5, firstDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 10_000 };

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, when there was an answer. */
  status?: number;
  /** Why it failed (no URL paths or headers: they may hold credentials). */
  error?: string;
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The delay before attempt `n + 1` (n from 0): doubled each time, ±20 %, capped. */
export function backoff(n: number, options: RetryOptions, retryAfter?: string | null, random = Math.random): number {
  const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  if (seconds !== undefined) return Math.min(seconds, options.maxDelayMs);
  const base = Math.min(options.firstDelayMs * 2 ** n, options.maxDelayMs);
  return Math.round(base * (0.8 + 0.4 * random()));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function deliver(request: OutgoingRequest, options: RetryOptions = defaultRetryOptions, signal?: AbortSignal): Promise<DeliveryResult> {
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let n = 0; n < options.attempts; n += 1) {
    if (signal?.aborted) break;
    let retryAfter: string | null = null;
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: { 'user-agent': 'doris', ...request.headers },
        body: request.body,
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, attempts: n + 1, status: response.status };
      last = { ok: false, attempts: n + 1, status: response.status, error: `HTTP ${response.status}` };
      if (response.status >= 300 && response.status < 400) return { ...last, error: `HTTP ${response.status}: redirects are not followed` };
      if (!retryable(response.status)) return last;
      retryAfter = response.headers.get('retry-after');
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      last = { ok: false, attempts: n + 1, error: cause ?? (error as Error).name ?? 'network error' };
    }
    if (n + 1 < options.attempts) await sleep(backoff(n, options, retryAfter), signal);
  }
  return last;
}
