/**
 * Problems are how a repository's faults reach a user: located by file, line and column
 * (relative to the repository root) so that an editor or CI can point at them, and always
 * listed in the same order (by file, then position) so output is stable from run to run.
 *
 * A problem is printed as one line, `file:line:col: message`, and CI systems act on lines that
 * look like `error: ...`. File names and messages come from the repository, so every control
 * character in them (a newline in a file name could forge such a line) is printed escaped.
 */
import type { Problem } from './types.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** `text` on one line: control and bidi characters as `\n`, `\t` or `\u{…}` escapes. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u{${c.codePointAt(0)!.toString(16).padStart(4, '0')}}`;
  });
}

/** `file:line:col` (or `file:line`, or just `file`, depending on what is known), printable. */
export function formatLocation(problem: Problem): string {
  let location = printable(problem.file);
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
export function makeProblem(severity: Problem['severity'], file: string, message: string, line?: number, col?: number): Problem {
  const problem: Problem = { severity, file, message };
  if (line !== undefined) problem.line = line;
  if (col !== undefined) problem.col = col;
  return problem;
}
