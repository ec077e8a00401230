/** `doris validate DIR`: the layout and manifests of a repository folder, offline. */
import { join } from 'node:path';
import { Command } from 'commander';
import { formatProblems, validateRepo } from '../render/validate.js';
import { ExitCode, printJson, say, type GlobalOptions } from './common.js';

export function validateCommand(global: () => GlobalOptions): Command {
  return new Command('validate')
    .description('check a folder of waves offline: layout, YAML 1.1, limits, duplicates; prints file:line:col: severity: message')
    .argument('<dir>', 'the folder holding the waves (e.g. deploy/)')
    .addHelpText('after', '\nExit codes: 0 no errors (warnings allowed), 1 errors found, 2 usage error.')
    .action(async (dir: string) => {
      const options = global();
      const found = await validateRepo(dir);
      // Paths as the user typed them, so that editors and CI can open file:line:col.
      const result = { ...found, problems: found.problems.map((p) => ({ ...p, file: join(dir, p.file) })) };
      const errors = result.problems.filter((p) => p.severity === 'error').length;
      const warnings = result.problems.length - errors;
      if (options.output === 'json') printJson({ ...result, errors, warnings });
      else {
        if (result.problems.length > 0) process.stdout.write(`${formatProblems(result.problems)}\n`);
        say(`${dir}: ${result.objects} objects in ${result.waves} waves; ${errors} errors, ${warnings} warnings`);
      }
      if (errors > 0) process.exitCode = ExitCode.failed;
    });
}
