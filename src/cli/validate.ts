/**
 * `doris validate DIR`: the layout and manifests of a repository folder, offline, with the
 * same render a sync does (inside the git repository DIR belongs to, as a sync sees it).
 */
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { printable } from '../render/problems.js';
import { formatProblems, validateFolder } from '../render/validate.js';
import { ExitCode, printJson, say, type GlobalOptions } from './common.js';

export function validateCommand(global: () => GlobalOptions): Command {
  return new Command('validate')
    .description(
      'check a folder of waves offline, with the rules a sync uses: layout, YAML, names, limits, duplicates; prints file:line:col: severity: message',
    )
    .argument('<dir>', 'the folder holding the waves (e.g. deploy/)')
    .addHelpText('after', '\nExit codes: 0 no errors (warnings allowed), 1 errors found, 2 usage error.')
    .action(async (dir: string) => {
      const options = global();
      const { root: _root, path, ...found } = await validateFolder(dir);
      // Paths as the user typed them, so that editors and CI can open file:line:col.
      const shown = (file: string): string => join(dir, relative(path, file));
      const result = { ...found, problems: found.problems.map((p) => ({ ...p, file: shown(p.file) })) };
      const errors = result.problems.filter((p) => p.severity === 'error').length;
      const warnings = result.problems.length - errors;
      if (options.output === 'json') printJson({ ...result, errors, warnings });
      else {
        if (result.problems.length > 0) process.stdout.write(`${formatProblems(result.problems)}\n`);
        say(`${printable(dir)}: ${result.objects} objects in ${result.waves} waves; ${errors} errors, ${warnings} warnings`);
      }
      if (errors > 0) process.exitCode = ExitCode.failed;
    });
}
