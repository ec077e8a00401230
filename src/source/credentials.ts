/**
 * Git credentials: from a Secret referenced by the Pipeline (`username` and `token` or
 * `password` keys; for SSH, `identity` and `known_hosts`, as Flux names them), or, for the
 * CLI, from flags and the environment. Never from a URL.
 */
import { readFileSync } from 'node:fs';
import type { KubeClient } from '../kube/client.js';
import type { GitCredentials } from './git.js';
import { noRegistryCredentials, parseDockerConfigJson, parseDockerConfigSecret, type RegistryCredentialSet } from './registry/index.js';

/**
 * Registry credentials for an image rule: its `secretRef` (a dockerconfigjson Secret in the
 * controller namespace), else the CLI's `--registry-credentials` file, else anonymous.
 */
export function registryCredentialsResolver(client: KubeClient, namespace: string, file?: string) {
  const fromFile = file ? parseDockerConfigJson(readFileSync(file, 'utf8'), file) : noRegistryCredentials;
  return async (rule: { secretRef?: { name: string } }): Promise<RegistryCredentialSet> => {
    if (!rule.secretRef) return fromFile;
    const secret = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: rule.secretRef.name })) as
      | { data?: Record<string, string> }
      | undefined;
    if (!secret) throw new Error(`registry credentials: Secret ${namespace}/${rule.secretRef.name} not found`);
    return parseDockerConfigSecret(secret, `Secret ${namespace}/${rule.secretRef.name}`);
  };
}

export async function gitCredentialsFromSecret(client: KubeClient, namespace: string, name: string): Promise<GitCredentials> {
  const secret = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name })) as { data?: Record<string, string> } | undefined;
  if (!secret) throw new Error(`git credentials: Secret ${namespace}/${name} not found`);
  const read = (key: string) => (secret.data?.[key] ? Buffer.from(secret.data[key], 'base64').toString('utf8').trim() : undefined);
  const identity = read('identity');
  if (identity) {
    const knownHosts = read('known_hosts');
    // Strict host-key checking: without the server's key there is nothing to check against.
    if (!knownHosts) throw new Error(`git credentials: Secret ${namespace}/${name} has "identity" but no "known_hosts" key (the git server's host keys)`);
    return { ssh: { identity: `${identity}\n`, knownHosts: `${knownHosts}\n` } };
  }
  const token = read('token') ?? read('password');
  if (!token) throw new Error(`git credentials: Secret ${namespace}/${name} has no "token" or "password" key (nor "identity" with "known_hosts" for SSH)`);
  return { username: read('username'), token };
}

/**
 * `--git-username` / `--git-token-file`, else DORIS_GIT_USERNAME / DORIS_GIT_TOKEN; for SSH,
 * `--ssh-key-file` with `--known-hosts-file` (one without the other is refused).
 */
export function gitCredentialsFromFlags(username?: string, tokenFile?: string, ssh: { keyFile?: string; knownHostsFile?: string } = {}): GitCredentials {
  const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : process.env.DORIS_GIT_TOKEN;
  const credentials: GitCredentials = { username: username ?? process.env.DORIS_GIT_USERNAME, token: token || undefined };
  if (!ssh.keyFile !== !ssh.knownHostsFile)
    throw new Error("--ssh-key-file and --known-hosts-file go together: strict host-key checking needs the server's keys");
  if (ssh.keyFile && ssh.knownHostsFile) {
    credentials.ssh = { identity: readFileSync(ssh.keyFile, 'utf8'), knownHosts: readFileSync(ssh.knownHostsFile, 'utf8') };
  }
  return credentials;
}
