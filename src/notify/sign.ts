/**
 * The signature of a generic notification: `X-Doris-Signature: sha256=<hex HMAC-SHA256 of
 * the exact body bytes>`, keyed by the receiver's shared secret — the scheme GitHub uses for
 * its webhooks (`X-Hub-Signature-256`), so receivers already know how to check it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signatureHeader = 'X-Doris-Signature';

export function sign(body: string | Uint8Array, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** Constant-time check of a received signature (for receivers, and the tests). */
export function verify(body: string | Uint8Array, key: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(sign(body, key));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
