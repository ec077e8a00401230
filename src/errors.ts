/**
 * Errors that reach a user are `DorisError`s: a stable code (one of the reason codes), a
 * message that names the file, line, object and what to do, and the underlying cause.
 */
import type { Reason } from './api/reasons.js';

export class DorisError extends Error {
  readonly code: Reason;

  constructor(code: Reason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DorisError';
    this.code = code;
  }
}
