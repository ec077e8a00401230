import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from '../../../src/source/registry/retry.js';

describe('retry policy', () => {
  it('retries 429 and 5xx, nothing else', () => {
    assert.deepEqual([200, 401, 403, 404, 429, 500, 502, 503].map(isRetryableStatus), [false, false, false, false, true, true, true, true]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  it('doubles the backoff up to its bound, with at most half of it as jitter', () => {
    const options = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 1)),
      [100, 200, 400, 800, 1000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 0)),
      [50, 100, 200, 400, 500],
    );
  });
});
