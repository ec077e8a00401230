/**
 * `doris validate` checks a repository offline, before it is pushed, with exactly the render a
 * sync does (`inspectRepo`: layout, YAML, names, limits, duplicates) — one rule set, so that
 * validate and a sync of the same commit accept and refuse the same things. It reports the
 * way compilers do — `file:line:col: severity: message`, one per line — so that editors and
 * CI annotate the right line.
 *
 * A sync renders a folder of a repository, with the repository as the boundary symlinks may
 * not leave. So validate finds the repository a folder belongs to (the nearest parent holding
 * `.git`) and renders the folder inside it, as a sync would.
 */
import { access, realpath } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { inspectRepo, type RenderOptions } from './layout.js';
import { formatLocation, printable } from './problems.js';
import type { Problem } from './types.js';

/** One problem per line: `file:line:col: severity: message` (line and col when known), printable. */
export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${formatLocation(p)}: ${p.severity}: ${printable(p.message)}`).join('\n');
}

export interface ValidateResult {
  /** Errors and warnings, in file and line order. */
  problems: Problem[];
  /** Objects rendered (those that could be read). */
  objects: number;
  /** Wave folders found. */
  waves: number;
}

/**
 * Validates the folder `path` (default: `dir` itself) of the repository at `dir`. Problems'
 * files are relative to `dir`. Never throws for problems in the repository.
 */
export async function validateRepo(dir: string, path = '.', options?: Partial<RenderOptions>): Promise<ValidateResult> {
  const { waves, problems } = await inspectRepo(dir, path, options);
  const objects = waves.reduce((n, w) => n + w.steps.reduce((m, s) => m + s.objects.length, 0), 0);
  return { problems, objects, waves: waves.length };
}

/**
 * Validates the folder `dir` as part of the git repository it is in (or, outside any
 * repository, on its own). Problems' files are relative to `dir`'s repository root.
 */
export async function validateFolder(dir: string, options?: Partial<RenderOptions>): Promise<ValidateResult & { root: string; path: string }> {
  const real = await realpath(dir).catch(() => undefined);
  const root = real ? await repositoryRoot(real) : undefined;
  if (!real || !root) return { ...(await validateRepo(dir, '.', options)), root: dir, path: '.' };
  const path = nodePath.relative(root, real) || '.';
  return { ...(await validateRepo(root, path, options)), root, path };
}

/** The nearest folder at or above `dir` that holds `.git`, if any. */
async function repositoryRoot(dir: string): Promise<string | undefined> {
  for (let current = dir; ; current = nodePath.dirname(current)) {
    if (
      await access(nodePath.join(current, '.git')).then(
        () => true,
        () => false,
      )
    )
      return current;
    if (nodePath.dirname(current) === current) return undefined;
  }
}
