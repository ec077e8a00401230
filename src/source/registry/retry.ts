/**
 * One HTTP exchange with a registry, retried when retrying can help: on 429 and 5xx answers
 * and on network errors (refused connection, reset, timeout). The wait doubles from
 * `initialBackoffMs` up to `maxBackoffMs`, with jitter; when the registry sends
 * `Retry-After` (seconds or an HTTP date) that wait is used instead — unless it is longer than
 * `maxRetryAfterMs`, in which case we stop and report it, leaving the next poll to the
 * caller. Every attempt has its own timeout. Nothing is retried for ever: `maxRetries` bounds
 * the attempts.
 *
 * A registry, and any token service its challenge names, is untrusted: a body is read only up
 * to a limit (`BodyLimits`), and past it the request is aborted and the call fails at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageResolveError } from './errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (0: never retry). */
  maxRetries: number;
  /** Wait before the first retry; doubles on every further retry. */
  initialBackoffMs: number;
  /** Longest wait between two attempts computed by backoff. */
  maxBackoffMs: number;
  /** Longest `Retry-After` honoured; a registry asking for more fails the call at once. */
  maxRetryAfterMs: number;
  /** Timeout of one attempt (connect, headers and body). */
  requestTimeoutMs: number;
  /** Told about every retry before its wait (for logs and tests). */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  /** What the request was for: the image, as the user wrote it. */
  subject: string;
  /** 1 for the first retry. */
  attempt: number;
  /** Status that caused the retry; undefined for a network error. */
  status: number | undefined;
  /** How long we wait before the next attempt. */
  delayMs: number;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function backoffDelay(retry: number, options: Pick<RetryOptions, 'initialBackoffMs' | 'maxBackoffMs'>, random = Math.random): number {
  const base = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (retry - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

/**
 * Largest bodies read: of a 2xx answer, and of any other (errors, challenges, refusals). A
 * registry is expected to take manifests up to 4 MiB (the distribution spec); errors and token
 * replies are small JSON.
 */
export interface BodyLimits {
  success: number;
  other: number;
}

/** For the registry API: manifests and indexes up to 4 MiB, error bodies up to 64 KiB. */
export const registryBodyLimits: BodyLimits = { success: 4 * 1024 * 1024, other: 64 * 1024 };
/** For a token service (whichever host a challenge names): replies up to 64 KiB. */
export const tokenBodyLimits: BodyLimits = { success: 64 * 1024, other: 64 * 1024 };

/** A body past its limit: not worth retrying. */
class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

/** A response read in full: what every caller needs, and the connection is free again. */
export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/**
 * Sends `init` to `url` until it gets an answer that is not worth retrying, and returns it
 * (any status). Throws `ImageResolveError` when retries run out or a `Retry-After` is too long.
 */
export async function fetchWithRetries(
  subject: string,
  url: string,
  init: RequestInit,
  options: RetryOptions,
  signal?: AbortSignal,
  limits: BodyLimits = registryBodyLimits,
): Promise<RegistryResponse> {
  for (let attempt = 0; ; attempt += 1) {
    let status: number | undefined;
    let retryAfterMs: number | undefined;
    let failure: unknown;
    try {
      const stop = new AbortController();
      const signals = [stop.signal, AbortSignal.timeout(options.requestTimeoutMs), ...(signal ? [signal] : [])];
      const response = await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.any(signals) });
      const body = await readBody(response, response.ok ? limits.success : limits.other, stop);
      if (!isRetryableStatus(response.status)) return { status: response.status, headers: response.headers, body };
      status = response.status;
      retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    } catch (error) {
      if (signal?.aborted) throw new ImageResolveError(subject, 'the request was cancelled', { cause: error });
      if (error instanceof BodyTooLarge) {
        throw new ImageResolveError(subject, `the answer from ${new URL(url).host} is larger than the limit of ${error.limit} bytes; refused`);
      }
      failure = error;
    }
    const what = status === undefined ? `could not reach the registry (${describeNetworkError(failure)})` : `the registry answered ${status}`;
    if (retryAfterMs !== undefined && retryAfterMs > options.maxRetryAfterMs) {
      throw new ImageResolveError(subject, `${what} and asked to retry after ${Math.ceil(retryAfterMs / 1000)} s; will try again on the next poll`, {
        status,
        retryAfterMs,
      });
    }
    if (attempt >= options.maxRetries) {
      const tries = attempt + 1;
      throw new ImageResolveError(subject, `${what} (${tries} attempt${tries === 1 ? '' : 's'})`, { status, retryAfterMs, cause: failure });
    }
    const delayMs = retryAfterMs ?? backoffDelay(attempt + 1, options);
    options.onRetry?.({ subject, attempt: attempt + 1, status, delayMs });
    await sleep(delayMs, undefined, signal ? { signal } : undefined).catch((error: unknown) => {
      throw new ImageResolveError(subject, 'the request was cancelled', { cause: error });
    });
  }
}

/** A body read whole, but never past `limit` bytes: past it, reading stops and `stop` aborts the request. */
async function readBody(response: Response, limit: number, stop: AbortController): Promise<Buffer> {
  // A HEAD answer has no body, whatever its Content-Length says.
  if (!response.body) return Buffer.alloc(0);
  const refuse = (): never => {
    stop.abort();
    throw new BodyTooLarge(limit);
  };
  if (Number(response.headers.get('content-length') ?? 0) > limit) refuse();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      refuse();
    }
    chunks.push(value);
  }
}

/** The gist of a fetch failure (`ECONNREFUSED`, `timeout`), without URLs or headers. */
function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return cause.code;
    if (cause && typeof cause.message === 'string' && cause.message.length < 80) return cause.message;
    return error.message;
  }
  return 'unknown error';
}
