/** The `doris` command tree: global options and every command, in the order `--help` lists them. */
import { Command, Option } from 'commander';
import { defaultControllerNamespace } from '../api/pipeline.js';
import { defaultWorkDir, parseOutput, type GlobalOptions } from './common.js';

type Global = () => GlobalOptions;

/**
 * Each command's module, loaded only when needed: `doris version` does not load the
 * controller, the dashboard or the hub (start-up time is the CLI's first impression).
 * The order is the order of `--help`.
 */
const commandModules: Array<{ names: string[]; load: (global: Global, program: () => Command) => Promise<Command[]> }> = [
  { names: ['bootstrap'], load: async (g) => [(await import('./bootstrap.js')).bootstrapCommand(g)] },
  { names: ['run'], load: async (g) => [(await import('./run.js')).runCommand(g)] },
  { names: ['sync'], load: async (g) => [(await import('./sync.js')).syncCommand(g)] },
  { names: ['validate'], load: async (g) => [(await import('./validate.js')).validateCommand(g)] },
  { names: ['plan'], load: async (g) => [(await import('./plan.js')).planCommand(g)] },
  { names: ['diff'], load: async (g) => [(await import('./diff.js')).diffCommand(g)] },
  { names: ['status'], load: async (g) => [(await import('./status.js')).statusCommand(g)] },
  { names: ['history'], load: async (g) => [(await import('./history.js')).historyCommand(g)] },
  { names: ['tree'], load: async (g) => [(await import('./tree.js')).treeCommand(g)] },
  { names: ['reconcile'], load: async (g) => [(await import('./reconcile.js')).reconcileCommand(g)] },
  {
    names: ['suspend', 'resume'],
    load: async (g) => {
      const m = await import('./suspend.js');
      return [m.suspendCommand(g), m.resumeCommand(g)];
    },
  },
  { names: ['check'], load: async (g) => [(await import('./check.js')).checkCommand(g)] },
  { names: ['hub'], load: async (g) => [(await import('./hub.js')).hubCommand(g)] },
  { names: ['fleet'], load: async (g) => [(await import('./fleet.js')).fleetCommand(g)] },
  { names: ['uninstall'], load: async (g) => [(await import('./uninstall.js')).uninstallCommand(g)] },
  { names: ['version'], load: async (g) => [(await import('./version.js')).versionCommand(g)] },
  { names: ['completion'], load: async (_g, program) => [(await import('./completion.js')).completionCommand(program)] },
];

/** Global options that take a value: the word after them is not the command. */
const valuedGlobals = new Set(['--kubeconfig', '--context', '-n', '--namespace', '-o', '--output', '--work-dir']);

/** The command word of a command line (`-n x status` → `status`), if any. */
export function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (valuedGlobals.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/**
 * The program with every command, or, given the arguments of a command line that names one
 * (`args`, without node and the script), with only that one — help, completion and
 * unknown words get them all.
 */
export async function buildProgram(args?: string[]): Promise<Command> {
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
  const word = args ? commandWord(args) : undefined;
  const only = commandModules.find((m) => word !== undefined && word !== 'completion' && m.names.includes(word));
  for (const module of only ? [only] : commandModules) {
    for (const command of await module.load(global, () => program)) program.addCommand(command.exitOverride().showHelpAfterError());
  }
  return program;
}
