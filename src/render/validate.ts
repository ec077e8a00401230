/**
 * `doris validate` checks a repository offline, before it is pushed: the same render a sync
 * does (layout, YAML, limits, duplicates), plus checks that need no cluster, reported the
 * way compilers do — `file:line:col: severity: message`, one per line — so that editors and
 * CI annotate the right line.
 */
import { compareProblems, formatLocation, makeProblem } from './problems.js';
import { inspectRepo, type RenderOptions } from './layout.js';
import { isClusterScopedKind } from './scope.js';
import type { Problem } from './types.js';

/** One problem per line: `file:line:col: severity: message` (line and col when known). */
export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${formatLocation(p)}: ${p.severity}: ${p.message}`).join('\n');
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
export async function validateRepo(
  dir: string,
  path = '.',
  options?: Partial<RenderOptions>,
): Promise<ValidateResult> {
  const { waves, problems } = await inspectRepo(dir, path, options);
  let objects = 0;
  for (const wave of waves) {
    for (const step of wave.steps) {
      for (const desired of step.objects) {
        objects++;
        const { apiVersion, kind, metadata } = desired.object;
        if (metadata.namespace && isClusterScopedKind(apiVersion, kind) === true) {
          const { file, line, col } = desired.source;
          const message =
            `${kind} ${metadata.name} is cluster-scoped: metadata.namespace "${metadata.namespace}" ` +
            'is ignored; it will be applied cluster-scoped';
          problems.push(makeProblem('warning', file, message, line, col));
        }
      }
    }
  }
  problems.sort(compareProblems);
  return { problems, objects, waves: waves.length };
}
