/**
 * A request body read whole, but never past a limit: a Content-Length over it is refused
 * before anything is read, and so is a body (chunked, or lying about its length) that grows
 * past it while being read. Both the controller's webhooks and the hub's API read bodies so.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
  }
}

/**
 * Rejects with `BodyTooLarge` past `limit` bytes. Then `drain` reads and drops the rest, so
 * that the client still reads the refusal; `destroy` closes the connection at once.
 */
export function readBoundedBody(req: IncomingMessage, limit: number, overflow: 'drain' | 'destroy'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume();
      reject(new BodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(limit));
        if (overflow === 'destroy') req.destroy();
        else {
          req.removeAllListeners('data');
          req.resume();
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
