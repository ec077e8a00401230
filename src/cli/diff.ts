/**
 * `doris diff`: what a sync would change, field by field, live against desired (like
 * `flux diff` and `kubectl diff`): exit 0 when nothing would change, 1 when something would.
 */
import { Command } from 'commander';
import { diffPipeline } from '../reconcile/diff-pipeline.js';
import { formatDiffs, hasChanges } from '../reconcile/diff.js';
import { formatProblems } from '../render/validate.js';
import { ExitCode, connect, out, printResult, say, type GlobalOptions } from './common.js';
import { addTargetOptions, dryRunOf, resolveTarget, type TargetFlags } from './target.js';

export function diffCommand(global: () => GlobalOptions): Command {
  const command = new Command('diff').description(
    'show what a sync would change, field by field (live against desired, Secret values masked); nothing is written',
  );
  addTargetOptions(command);
  command.addHelpText(
    'after',
    `
Exit codes: 0 no changes, 1 changes (or the API server would refuse an object), 2 usage error,
3 the Pipeline does not exist, 4 the cluster cannot be reached.

Examples:
  doris diff --pipeline main
  doris diff --repo https://github.com/acme/fleet.git --branch next --name main -o json`,
  );
  command.action(async (flags: TargetFlags) => {
    const options = global();
    const client = await connect(options);
    try {
      const target = await resolveTarget(client, options.namespace, flags);
      const result = await diffPipeline(client, dryRunOf(client, options, flags, target));
      const changed = hasChanges(result.diffs) || result.pruneRefusal !== undefined;
      printResult(options, { pipeline: target.name, ...result, changed }, () => {
        if (result.problems.length > 0) say(formatProblems(result.problems));
        say(`commit ${result.commit}`);
        for (const line of formatDiffs(result.diffs)) out(line);
        const count = (action: string) => result.diffs.filter((d) => d.action === action).length;
        say(
          `${count('create')} to create, ${count('update')} to change, ${count('recreate')} to recreate, ${count('delete')} to delete, ${count('unchanged')} unchanged, ${count('error')} refused`,
        );
        if (result.pruneRefusal) say(`the sync would be refused: ${result.pruneRefusal}`);
      });
      if (changed) process.exitCode = ExitCode.failed;
    } finally {
      client.close();
    }
  });
  return command;
}
