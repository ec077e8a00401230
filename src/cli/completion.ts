/**
 * `doris completion bash|zsh|fish`: a shell completion script, generated from the command
 * tree itself, so every command and flag `--help` knows is completed and none that it does
 * not. The scripts are built from plain data (`CompletionSpec`) by pure functions.
 */
import { Command } from 'commander';
import { UsageError } from './common.js';

export interface CompletionOption {
  /** `--repo`, and `-n` when there is a short form. */
  long: string;
  short?: string;
  /** True when the option takes a value (so the next word is not a command). */
  takesValue: boolean;
  description: string;
}

export interface CompletionSpec {
  name: string;
  options: CompletionOption[];
  commands: Array<{ name: string; description: string; options: CompletionOption[]; arguments?: string[] }>;
}

export const shells = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof shells)[number];

function optionsOf(command: Command): CompletionOption[] {
  return command.options
    .filter((o) => o.long)
    .map((o) => ({ long: o.long!, ...(o.short ? { short: o.short } : {}), takesValue: o.required || o.optional, description: o.description }));
}

/** The completion data of a commander program. */
export function completionSpec(program: Command): CompletionSpec {
  return {
    name: program.name(),
    options: [...optionsOf(program), { long: '--help', short: '-h', takesValue: false, description: 'display help' }],
    commands: program.commands.map((c) => ({
      name: c.name(),
      description: c.description(),
      options: [...optionsOf(c), { long: '--help', short: '-h', takesValue: false, description: 'display help for the command' }],
      ...(c.name() === 'completion' ? { arguments: [...shells] } : {}),
    })),
  };
}

const words = (list: string[]) => [...new Set(list)].join(' ');
const flagsOf = (options: CompletionOption[]) => options.flatMap((o) => (o.short ? [o.long, o.short] : [o.long]));
const singleQuoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

function bash(spec: CompletionSpec): string {
  const fn = `_${spec.name.replace(/\W/g, '_')}`;
  const valued = flagsOf(spec.options.filter((o) => o.takesValue));
  const cases = spec.commands
    .map(
      (c) =>
        `    ${c.name}) COMPREPLY=($(compgen -W ${singleQuoted(words([...(c.arguments ?? []), ...flagsOf(c.options), ...flagsOf(spec.options)]))} -- "$cur")) ;;`,
    )
    .join('\n');
  return `# bash completion for ${spec.name}: source <(${spec.name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${valued.join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$cmd" in
    "") COMPREPLY=($(compgen -W ${singleQuoted(words([...spec.commands.map((c) => c.name), ...flagsOf(spec.options)]))} -- "$cur")) ;;
${cases}
  esac
}
complete -o default -F ${fn} ${spec.name}
`;
}

function zsh(spec: CompletionSpec): string {
  const fn = `_${spec.name.replace(/\W/g, '_')}`;
  const describe = (name: string, description: string) => singleQuoted(`${name.replaceAll(':', '\\:')}:${oneLine(description).replaceAll(':', '\\:')}`);
  const valued = flagsOf(spec.options.filter((o) => o.takesValue));
  const cases = spec.commands
    .map((c) => `    ${c.name}) compadd -- ${words([...(c.arguments ?? []), ...flagsOf(c.options), ...flagsOf(spec.options)])} ;;`)
    .join('\n');
  return `#compdef ${spec.name}
# zsh completion for ${spec.name}: source <(${spec.name} completion zsh), or save as _${spec.name} in your $fpath
${fn}() {
  local -a commands
  commands=(
${spec.commands.map((c) => `    ${describe(c.name, c.description)}`).join('\n')}
  )
  local cmd="" i
  for ((i = 2; i < CURRENT; i++)); do
    case "\${words[i]}" in
      ${valued.join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="\${words[i]}"; break ;;
    esac
  done
  case "$cmd" in
    "") _describe 'command' commands; compadd -- ${words(flagsOf(spec.options))} ;;
${cases}
  esac
  _files
}
compdef ${fn} ${spec.name}
`;
}

function fish(spec: CompletionSpec): string {
  const option = (o: CompletionOption, condition?: string) =>
    [
      `complete -c ${spec.name}`,
      condition ? `-n ${singleQuoted(condition)}` : '',
      `-l ${o.long.replace(/^--/, '')}`,
      o.short ? `-s ${o.short.replace(/^-/, '')}` : '',
      o.takesValue ? '-r' : '',
      `-d ${singleQuoted(oneLine(o.description))}`,
    ]
      .filter(Boolean)
      .join(' ');
  const lines = [`# fish completion for ${spec.name}: ${spec.name} completion fish | source`, `complete -c ${spec.name} -f`];
  for (const o of spec.options) lines.push(option(o));
  for (const c of spec.commands) {
    lines.push(`complete -c ${spec.name} -n '__fish_use_subcommand' -a ${c.name} -d ${singleQuoted(oneLine(c.description))}`);
    const when = `__fish_seen_subcommand_from ${c.name}`;
    for (const a of c.arguments ?? []) lines.push(`complete -c ${spec.name} -n ${singleQuoted(when)} -a ${a}`);
    for (const o of c.options) lines.push(option(o, when));
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, spec: CompletionSpec): string {
  return { bash, zsh, fish }[shell](spec);
}

export function completionCommand(program: () => Command): Command {
  return new Command('completion')
    .description('print a shell completion script: bash, zsh or fish')
    .argument('<shell>', 'bash | zsh | fish')
    .addHelpText(
      'after',
      `
Examples:
  source <(doris completion bash)                              # this bash session
  doris completion bash > /etc/bash_completion.d/doris         # every bash session
  doris completion zsh > "\${fpath[1]}/_doris"                  # zsh
  doris completion fish > ~/.config/fish/completions/doris.fish`,
    )
    .action((shell: string) => {
      if (!(shells as readonly string[]).includes(shell)) throw new UsageError(`unknown shell ${JSON.stringify(shell)}: give bash, zsh or fish`);
      process.stdout.write(completionScript(shell as Shell, completionSpec(program())));
    });
}
