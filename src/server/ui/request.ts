/**
 * The small parts of HTTP a browser UI needs and node:http leaves out: cookies, form
 * bodies (bounded), the client's address and whether it asked for JSON.
 */
import type { IncomingMessage } from 'node:http';

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    // The first cookie of a name wins, as browsers send the most specific path first.
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

export class FormTooLarge extends Error {
  readonly code = 'FormTooLarge';
}

/** An `application/x-www-form-urlencoded` body of at most `limit` bytes (any other type reads as empty). */
export async function readForm(req: IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.destroy();
      throw new FormTooLarge(`form body larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** True when the client prefers JSON (API clients, `fetch` from the page) over HTML. */
export function wantsJson(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept.includes('application/json') && !accept.includes('text/html');
}
