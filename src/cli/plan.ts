/** `doris plan`: what a sync would change against the live cluster, writing nothing. */
import { Command } from 'commander';
import { planPipeline } from '../reconcile/plan.js';
import { formatProblems } from '../render/validate.js';
import { ExitCode, connect, printData, say, type GlobalOptions } from './common.js';
import { addTargetOptions, dryRunOf, resolveTarget, type TargetFlags } from './target.js';

export function planCommand(global: () => GlobalOptions): Command {
  const command = new Command('plan').description(
    'show what a sync would do — create / update / recreate / unchanged / prune — using server-side dry-runs; nothing is written',
  );
  addTargetOptions(command);
  command.addHelpText('after', '\nExit codes: 0 plan computed, 1 the plan found errors (or the prune guard would refuse), 2 usage error.');
  command.action(async (flags: TargetFlags) => {
    const options = global();
    const client = await connect(options);
    try {
      const target = await resolveTarget(client, options.namespace, flags);
      const plan = await planPipeline(client, dryRunOf(client, options, flags, target));
      const errors = plan.rows.filter((r) => r.action === 'error').length;
      if (options.output !== 'text') printData(options, plan);
      else {
        if (plan.problems.length > 0) say(formatProblems(plan.problems));
        process.stdout.write(`commit ${plan.commit}\n`);
        for (const row of plan.rows) {
          // A refusal names where the object is written, so it can be fixed there.
          const note = row.action === 'error' && row.source ? `${row.source}: ${row.note ?? ''}` : row.note;
          process.stdout.write(`${row.action.padEnd(10)} ${row.object}  [${row.stage}]${note ? `  (${note})` : ''}\n`);
        }
        const count = (a: string) => plan.rows.filter((r) => r.action === a).length;
        say(
          `${count('create')} to create, ${count('update')} to update, ${count('recreate')} to recreate, ${count('unchanged')} unchanged, ${count('prune')} to prune, ${errors} errors`,
        );
        if (plan.pruneRefusal) say(`the sync would be refused: ${plan.pruneRefusal}`);
      }
      if (errors > 0 || plan.pruneRefusal) process.exitCode = ExitCode.failed;
    } finally {
      client.close();
    }
  });
  return command;
}
