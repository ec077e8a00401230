/**
 * `doris validate DIR`: the layout and manifests of a repository folder, offline, with the
 * same render a sync does (inside the git repository DIR belongs to, as a sync sees it).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { printable } from '../render/problems.js';
import { defaultSopsOptions } from '../render/sops.js';
import { formatProblems, validateFolder } from '../render/validate.js';
import { ExitCode, printData, say, type GlobalOptions } from './common.js';

interface ValidateFlags {
  kustomizePath?: string;
  kustomizeAllowRemote?: boolean;
  kustomizeAllowPlugins?: boolean;
  ageKeyFile?: string;
  sopsPath?: string;
}

export function validateCommand(global: () => GlobalOptions): Command {
  return new Command('validate')
    .description(
      'check a folder of waves offline, with the rules a sync uses: layout, YAML, names, limits, duplicates, kustomize builds; prints file:line:col: severity: message',
    )
    .argument('<dir>', 'the folder holding the waves (e.g. deploy/)')
    .option('--kustomize-path <file>', 'the kustomize executable for folders with a kustomization.yaml (default: kustomize on PATH, or DORIS_KUSTOMIZE_PATH)')
    .option('--kustomize-allow-remote', 'allow remote bases in kustomizations, as spec.kustomize.allowRemote does')
    .option('--kustomize-allow-plugins', 'allow exec functions and plugins in kustomizations, as spec.kustomize.allowPlugins does')
    .option('--age-key-file <file>', 'decrypt SOPS files with this age key (without it they are reported as not decrypted, a warning)')
    .option('--sops-path <file>', 'the sops executable (default: sops on PATH, or DORIS_SOPS_PATH)')
    .addHelpText('after', '\nExit codes: 0 no errors (warnings allowed), 1 errors found, 2 usage error.')
    .action(async (dir: string, flags: ValidateFlags) => {
      const options = global();
      if (flags.kustomizePath) process.env.DORIS_KUSTOMIZE_PATH = flags.kustomizePath;
      if (flags.sopsPath) process.env.DORIS_SOPS_PATH = flags.sopsPath;
      const ageKey = flags.ageKeyFile ? readFileSync(flags.ageKeyFile, 'utf8').trim() : undefined;
      const {
        root: _root,
        path,
        ...found
      } = await validateFolder(dir, {
        kustomize: { policy: { allowRemote: flags.kustomizeAllowRemote ?? false, allowPlugins: flags.kustomizeAllowPlugins ?? false } },
        sops: defaultSopsOptions(ageKey),
        encryptedWithoutKey: 'warning',
      });
      // Paths as the user typed them, so that editors and CI can open file:line:col.
      const shown = (file: string): string => join(dir, relative(path, file));
      const result = { ...found, problems: found.problems.map((p) => ({ ...p, file: shown(p.file) })) };
      const errors = result.problems.filter((p) => p.severity === 'error').length;
      const warnings = result.problems.length - errors;
      if (options.output !== 'text') printData(options, { ...result, errors, warnings });
      else {
        if (result.problems.length > 0) process.stdout.write(`${formatProblems(result.problems)}\n`);
        say(`${printable(dir)}: ${result.objects} objects in ${result.waves} waves; ${errors} errors, ${warnings} warnings`);
      }
      if (errors > 0) process.exitCode = ExitCode.failed;
    });
}
