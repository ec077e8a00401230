/**
 * What `doris bootstrap` proves before it installs anything, and after:
 *
 * - before: the repository's branch can be read with the credentials given (`git ls-remote`,
 *   as the controller will); the registry credentials file holds passwords (a Docker config
 *   with only `credsStore`/`credHelpers` keeps them in the desktop's keychain, which a
 *   cluster cannot reach); and every image the rules track in the branch's manifests resolves
 *   to a digest with those credentials (a glob rule: the images the manifests name);
 * - after: the first sync, as the controller records it in the Pipeline's status.
 *
 * A refusal before is a `BootstrapCheckError` and nothing is installed.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineSpec, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import { renderRepo } from '../render/layout.js';
import { gitSourceFor } from '../reconcile/desired.js';
import { credentialFor, parseDockerConfigJson } from '../source/registry/credentials.js';
import { explainStatus } from '../source/registry/errors.js';
import { parseRulePattern } from '../source/registry/rule.js';
import type { GitCredentials } from '../source/git.js';
import { ImageTracker } from '../source/images.js';
import type { RegistryCredentialSet } from '../source/registry/credentials.js';
import { getPipeline } from '../status/store.js';
import { UsageError } from './common.js';

/** A check failed before anything was installed. */
export class BootstrapCheckError extends Error {
  readonly code = 'BootstrapCheckFailed';
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapCheckError';
  }
}

/** The registry of an image rule's repository (`ghcr.io/acme/solar-*` → `ghcr.io`). */
export function ruleRegistry(repository: string): string {
  try {
    return parseRulePattern(repository).registry;
  } catch (error) {
    throw new BootstrapCheckError((error as Error).message);
  }
}

/**
 * Reads a `--registry-credentials` file and refuses one that cannot serve the rules: not
 * JSON, or no password for a rule's registry — naming a credential store when that is why.
 */
export function readRegistryCredentials(file: string, text: string, registries: string[]): RegistryCredentialSet {
  let credentials: RegistryCredentialSet;
  try {
    credentials = parseDockerConfigJson(text, file);
  } catch (error) {
    throw new BootstrapCheckError((error as Error).message);
  }
  const parsed = JSON.parse(text) as { credsStore?: unknown; credHelpers?: Record<string, unknown> };
  const store = typeof parsed.credsStore === 'string' ? parsed.credsStore : undefined;
  const helpers = parsed.credHelpers && typeof parsed.credHelpers === 'object' ? Object.keys(parsed.credHelpers) : [];
  const missing = (registries.length > 0 ? registries : ['any registry']).filter((r) =>
    r === 'any registry' ? credentials.size === 0 : !credentialFor(credentials, r),
  );
  if (missing.length === 0) return credentials;
  const why =
    store || helpers.length > 0
      ? `it names a credential store (${store ? `credsStore: ${store}` : `credHelpers for ${helpers.join(', ')}`}), which keeps the passwords outside the file, where a cluster cannot read them`
      : 'it has no "auths" entry with a username and password (or "auth") for it';
  throw new BootstrapCheckError(
    `${file} holds no password for ${missing.join(', ')}: ${why}. Write a file of its own: {"auths": {"${missing[0] === 'any registry' ? 'ghcr.io' : missing[0]}": {"auth": "<base64 of user:token>"}}} (see docs/quickstart-github-ghcr.md)`,
  );
}

/** The branch's head commit, read as the controller will read it; refuses when it cannot be. */
export async function checkGitSource(spec: PipelineSpec, credentials: GitCredentials, workDir: string): Promise<string> {
  if (!spec.git) return '';
  try {
    return await gitSourceFor(spec, credentials, workDir).resolve();
  } catch (error) {
    throw new BootstrapCheckError(
      `cannot read branch ${spec.git.branch} of the repository with the credentials given: ${(error as Error).message} (check --repo, --branch and the token's read access)`,
    );
  }
}

/** What the image rules resolve to at `commit`: errors refuse the install, notes are printed. */
export async function checkImages(
  spec: PipelineSpec,
  credentials: GitCredentials,
  registry: RegistryCredentialSet,
  commit: string,
  workDir: string,
): Promise<{ resolved: string[]; notes: string[] }> {
  if (!spec.git || spec.images.length === 0) return { resolved: [], notes: [] };
  const source = gitSourceFor(spec, credentials, workDir);
  await source.fetchCommit(commit);
  const checkout = await source.checkout(commit, join(workDir, 'checkouts'));
  try {
    let objects: Awaited<ReturnType<typeof renderRepo>>['waves'][number]['steps'][number]['objects'] = [];
    const notes: string[] = [];
    try {
      const { waves } = await renderRepo(checkout, source.path, { defaultNamespace: spec.targetNamespace ?? 'default' });
      objects = waves.flatMap((w) => w.steps.flatMap((s) => s.objects));
    } catch (error) {
      notes.push(`the branch does not render yet, so glob rules could not be checked: ${(error as Error).message.split('\n')[0]}`);
    }
    const tracker = new ImageTracker(async () => registry);
    const result = await tracker.resolve(spec.images, [], undefined, { rendered: objects });
    // An image not pushed yet is fine (it is picked up once it is); refused credentials are not.
    const missing = result.unresolved.filter((f) => f.error.includes(explainStatus(404)));
    const refused = result.unresolved.filter((f) => !missing.includes(f));
    if (refused.length > 0) {
      throw new BootstrapCheckError(
        `the registry refuses images the rules track, with the credentials given:\n${refused.map((f) => `  ${f.error}`).join('\n')}`,
      );
    }
    for (const f of missing) notes.push(`${f.error} (not pushed yet? it is picked up once it is)`);
    for (const rule of spec.images) {
      const text = `${rule.repository}:${rule.tag}`;
      if (parseRulePattern(rule.repository).glob && !result.images.some((i) => i.rule === text)) {
        notes.push(`image rule ${text} matches no image in the manifests of ${commit.slice(0, 12)}`);
      }
    }
    return { resolved: result.images.filter((i) => i.digest).map((i) => `${i.repository}:${i.tag}@${i.digest}`), notes };
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
}

/** The registries the rules of a raw spec name. */
export function ruleRegistries(rawSpec: Record<string, unknown>): string[] {
  return [...new Set(parsePipelineSpec(rawSpec).images.map((i) => ruleRegistry(i.repository)))];
}

/** A file named by a flag; one that cannot be read is a usage error (exit 2). */
export function readFileOrRefuse(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** The first sync that ends after `since` (the Pipeline's generation observed), or undefined at the deadline. */
export async function waitForFirstSync(client: KubeClient, namespace: string, name: string, deadline: number): Promise<Pipeline | undefined> {
  for (;;) {
    const pipeline = await getPipeline(client, namespace, name);
    const ready = pipeline?.status?.conditions?.find((c) => c.type === 'Ready');
    const generation = (pipeline?.metadata as { generation?: number } | undefined)?.generation;
    const current = ready && (ready.observedGeneration === undefined || generation === undefined || ready.observedGeneration >= generation);
    if (pipeline && current && ready.status !== 'Unknown' && pipeline.status?.lastAttemptedCommit) return pipeline;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
