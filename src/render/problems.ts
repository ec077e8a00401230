/**
 * Problems are how a repository's faults reach a user: located by file, line and column
 * (relative to the repository root) so that an editor or CI can point at them, and always
 * listed in the same order (by file, then position) so output is stable from run to run.
 */
import type { Problem } from './types.js';

/** `file:line:col` (or `file:line`, or just `file`, depending on what is known). */
export function formatLocation(problem: Problem): string {
  let location = problem.file;
  if (problem.line !== undefined) {
    location += `:${problem.line}`;
    if (problem.col !== undefined) location += `:${problem.col}`;
  }
  return location;
}

/** By file (code-unit order, locale-independent), then line, then column. */
export function compareProblems(a: Problem, b: Problem): number {
  const byFile = a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
  return byFile || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}

/** A problem, with `line` and `col` only when known (no `undefined` keys in output). */
export function makeProblem(
  severity: Problem['severity'],
  file: string,
  message: string,
  line?: number,
  col?: number,
): Problem {
  const problem: Problem = { severity, file, message };
  if (line !== undefined) problem.line = line;
  if (col !== undefined) problem.col = col;
  return problem;
}
