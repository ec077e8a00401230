/**
 * Every registry failure reaches the caller as an `ImageResolveError`: reason code
 * `ImageResolveFailed`, the image it was about, and the HTTP status when there was one.
 * Messages are built from the image name, the status and a fixed explanation only — never
 * from a credential, a token or a header value — so they are safe to put in status, Events
 * and logs.
 */
import { DorisError } from '../../errors.js';

export class ImageResolveError extends DorisError {
  /** The image (or rule) the error is about, as the user wrote it. */
  readonly image: string;
  /** HTTP status of the answer that failed, when the registry answered at all. */
  readonly status: number | undefined;
  /** When the registry asked to be left alone for longer than we wait (429/503 `Retry-After`). */
  readonly retryAfterMs: number | undefined;

  constructor(image: string, message: string, details: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super('ImageResolveFailed', `image ${image}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ImageResolveError';
    this.image = image;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A short, fixed explanation of a registry's HTTP status. */
export function explainStatus(status: number): string {
  if (status === 401) return 'the registry refused the credentials (or none were configured for it)';
  if (status === 403) return 'the credentials have no pull access to this repository';
  if (status === 404) return 'no such repository or tag';
  if (status === 429) return 'the registry is rate limiting us';
  if (status >= 500) return 'the registry failed';
  return 'unexpected answer';
}
