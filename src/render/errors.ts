/**
 * A render either yields the whole desired state or nothing: one bad document must not leave
 * a half-rendered repository to be applied. So the renderer collects every problem it finds
 * (all files are read) and then throws one `RenderError` listing them all, so a user fixes
 * the repository in one round instead of one error per commit.
 */
import { DorisError } from '../errors.js';
import { formatLocation, printable } from './problems.js';
import type { Problem } from './types.js';

export class RenderError extends DorisError {
  /** Every problem found, errors and warnings, in file order. The message lists the errors. */
  readonly problems: Problem[];

  constructor(problems: Problem[], options?: { cause?: unknown }) {
    const errors = problems.filter((p) => p.severity === 'error');
    super('BuildFailed', errors.map((p) => `${formatLocation(p)}: ${printable(p.message)}`).join('\n'), options);
    this.name = 'RenderError';
    this.problems = problems;
  }
}
