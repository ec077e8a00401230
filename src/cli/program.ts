/** The `doris` command tree: global options and every command, in the order `--help` lists them. */
import { Command, Option } from 'commander';
import { defaultControllerNamespace } from '../api/pipeline.js';
import { bootstrapCommand } from './bootstrap.js';
import { checkCommand } from './check.js';
import { defaultWorkDir, parseOutput, type GlobalOptions } from './common.js';
import { completionCommand } from './completion.js';
import { diffCommand } from './diff.js';
import { fleetCommand } from './fleet.js';
import { historyCommand } from './history.js';
import { hubCommand } from './hub.js';
import { planCommand } from './plan.js';
import { reconcileCommand } from './reconcile.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { resumeCommand, suspendCommand } from './suspend.js';
import { syncCommand } from './sync.js';
import { treeCommand } from './tree.js';
import { uninstallCommand } from './uninstall.js';
import { validateCommand } from './validate.js';
import { versionCommand } from './version.js';

export function buildProgram(): Command {
  const program = new Command('doris')
    .description('DORIS: pull-based continuous deployment for Kubernetes — manifests from git, applied wave by wave with server-side apply.')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .option('-n, --namespace <ns>', 'the controller namespace, where Pipelines live', defaultControllerNamespace)
    .addOption(new Option('-o, --output <format>', 'text, json or yaml').default('text').argParser(parseOutput))
    .addOption(new Option('--work-dir <dir>', 'cache for git objects and checkouts').default(defaultWorkDir, '$TMPDIR/doris'))
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 failed (diff: there are changes), 2 usage error, 3 not found,
4 the cluster cannot be reached. Results go to stdout, progress to stderr.`,
    )
    .showHelpAfterError()
    .exitOverride();

  const global = (): GlobalOptions => program.opts<GlobalOptions>();
  for (const command of [
    bootstrapCommand(global),
    runCommand(global),
    syncCommand(global),
    validateCommand(global),
    planCommand(global),
    diffCommand(global),
    statusCommand(global),
    historyCommand(global),
    treeCommand(global),
    reconcileCommand(global),
    suspendCommand(global),
    resumeCommand(global),
    checkCommand(global),
    hubCommand(global),
    fleetCommand(global),
    uninstallCommand(global),
    versionCommand(global),
    completionCommand(() => program),
  ]) {
    program.addCommand(command.exitOverride().showHelpAfterError());
  }
  return program;
}
