/**
 * Which Pipeline a command works on: an existing one (`--pipeline NAME`) or one described
 * inline by flags (`--repo URL --branch B --path P --name NAME`), with git credentials from
 * its Secret, or from flags and the environment.
 */
import type { Command } from 'commander';
import { parsePipelineSpec, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import type { DryRunOptions } from '../reconcile/dry-run.js';
import { gitCredentialsFromFlags, gitCredentialsFromSecret, registryCredentialsResolver } from '../source/credentials.js';
import type { GitCredentials } from '../source/git.js';
import { ImageTracker } from '../source/images.js';
import { getPipeline } from '../status/store.js';
import { type GlobalOptions, NotFoundError, UsageError } from './common.js';

/** `ghcr.io/acme/solar-*:main` → repository and tag (the tag after the last colon past the last slash). */
export function parseImageRule(rule: string): { repository: string; tag: string } {
  const slash = rule.lastIndexOf('/');
  const colon = rule.lastIndexOf(':');
  if (colon > slash && colon > 0) return { repository: rule.slice(0, colon), tag: rule.slice(colon + 1) };
  return { repository: rule, tag: 'main' };
}

export interface TargetFlags {
  pipeline?: string;
  repo?: string;
  branch: string;
  path: string;
  name?: string;
  gitUsername?: string;
  gitTokenFile?: string;
  sshKeyFile?: string;
  knownHostsFile?: string;
  targetNamespace?: string;
  waitTimeout?: string;
  replay?: string;
  allowMassPrune?: boolean;
  prune: boolean;
  imageRule: string[];
  registryCredentials?: string;
}

export function addTargetOptions(command: Command): Command {
  return command
    .option('--pipeline <name>', 'an existing Pipeline in the controller namespace')
    .option('--repo <url>', 'inline Pipeline: git repository URL (https, ssh:// or git@host:path)')
    .option('--branch <branch>', 'inline Pipeline: branch to follow', 'main')
    .option('--path <path>', 'inline Pipeline: folder holding the waves', 'deploy')
    .option('--name <name>', 'inline Pipeline: its name')
    .option('--target-namespace <ns>', 'inline Pipeline: namespace for objects that name none (default: default)')
    .option('--wait-timeout <duration>', 'inline Pipeline: health wait per wave, e.g. 5m')
    .option('--replay <mode>', 'inline Pipeline: latest | each-commit')
    .option('--allow-mass-prune', 'inline Pipeline: allow pruning more than half of the inventory')
    .option('--no-prune', 'inline Pipeline: never delete objects that left the repository')
    .option(
      '--image-rule <repo:tag>',
      'inline Pipeline: track an image, a repository or glob with its tag (e.g. ghcr.io/acme/solar-*:main); repeatable',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--registry-credentials <file>', 'a dockerconfigjson file with registry credentials (for image rules without a Secret)')
    .option('--git-username <user>', 'git username (or DORIS_GIT_USERNAME)')
    .option('--git-token-file <file>', 'file holding the git token (or DORIS_GIT_TOKEN)')
    .option('--ssh-key-file <file>', 'for an ssh:// or git@host:path repository: the private key (unencrypted); needs --known-hosts-file')
    .option('--known-hosts-file <file>', "the git server's host keys (known_hosts format): any other host key is refused");
}

export interface Target {
  name: string;
  spec: PipelineSpec;
  /** The raw spec, to create or update an inline Pipeline. */
  rawSpec?: Record<string, unknown>;
  existing?: Pipeline;
  credentials: GitCredentials;
}

export async function resolveTarget(client: KubeClient, namespace: string, flags: TargetFlags): Promise<Target> {
  if (flags.pipeline && flags.repo) throw new UsageError('give either --pipeline NAME or --repo URL --name NAME, not both');
  if (flags.pipeline) {
    const existing = await getPipeline(client, namespace, flags.pipeline);
    if (!existing) throw new NotFoundError(`Pipeline ${namespace}/${flags.pipeline} not found (create it with --repo ... --name ${flags.pipeline})`);
    const spec = parsePipelineSpec(existing.spec);
    const credentials = spec.git?.secretRef
      ? await gitCredentialsFromSecret(client, namespace, spec.git.secretRef.name)
      : gitCredentialsFromFlags(flags.gitUsername, flags.gitTokenFile, { keyFile: flags.sshKeyFile, knownHostsFile: flags.knownHostsFile });
    return { name: flags.pipeline, spec, existing, credentials };
  }
  if (!flags.repo || !flags.name) throw new UsageError('give --pipeline NAME, or --repo URL and --name NAME for an inline Pipeline');
  const rawSpec: Record<string, unknown> = {
    git: { url: flags.repo, branch: flags.branch, path: flags.path },
    prune: { enabled: flags.prune, allowMass: flags.allowMassPrune ?? false },
  };
  if (flags.targetNamespace) rawSpec.targetNamespace = flags.targetNamespace;
  if (flags.waitTimeout) rawSpec.wait = { timeout: flags.waitTimeout };
  if (flags.replay) rawSpec.replay = flags.replay;
  if (flags.imageRule.length > 0) rawSpec.images = flags.imageRule.map(parseImageRule);
  let spec: PipelineSpec;
  try {
    spec = parsePipelineSpec(rawSpec);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const existing = await getPipeline(client, namespace, flags.name);
  return {
    name: flags.name,
    spec,
    rawSpec,
    existing,
    credentials: gitCredentialsFromFlags(flags.gitUsername, flags.gitTokenFile, { keyFile: flags.sshKeyFile, knownHostsFile: flags.knownHostsFile }),
  };
}

/** What `plan` and `diff` compare: the target, its images resolved with the registry credentials the flags name. */
export function dryRunOf(client: KubeClient, options: Pick<GlobalOptions, 'namespace' | 'workDir'>, flags: TargetFlags, target: Target): DryRunOptions {
  return {
    name: target.name,
    namespace: options.namespace,
    spec: target.spec,
    status: target.existing?.status,
    credentials: target.credentials,
    workDir: options.workDir,
    images: new ImageTracker(registryCredentialsResolver(client, options.namespace, flags.registryCredentials)),
  };
}
