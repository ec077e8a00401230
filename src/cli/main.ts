/**
 * `doris`: the command line. Global options come first; each command lives in its own file.
 */
import { Command, CommanderError, Option } from 'commander';
import { defaultControllerNamespace } from '../api/pipeline.js';
import { ExitCode, UsageError, defaultWorkDir, parseOutput, type GlobalOptions } from './common.js';
import { bootstrapCommand } from './bootstrap.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { syncCommand } from './sync.js';
import { validateCommand } from './validate.js';

const program = new Command('doris')
  .description('DORIS: pull-based continuous deployment for Kubernetes — manifests from git, applied wave by wave with server-side apply.')
  .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, in-cluster, ~/.kube/config)')
  .option('-n, --namespace <ns>', 'the controller namespace, where Pipelines live', defaultControllerNamespace)
  .addOption(new Option('-o, --output <format>', 'text or json').default('text').argParser(parseOutput))
  .option('--work-dir <dir>', 'cache for git objects and checkouts', defaultWorkDir)
  .showHelpAfterError()
  .exitOverride();

const global = (): GlobalOptions => program.opts<GlobalOptions>();

for (const command of [
  bootstrapCommand(global),
  runCommand(global),
  syncCommand(global),
  validateCommand(global),
  planCommand(global),
  statusCommand(global),
]) {
  program.addCommand(command.exitOverride().showHelpAfterError());
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; everything else commander refuses is a usage error.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (error instanceof UsageError) {
    process.stderr.write(`doris: ${error.message}\n`);
    process.exitCode = ExitCode.usage;
  } else {
    process.stderr.write(`doris: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = ExitCode.failed;
  }
}
