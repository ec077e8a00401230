/**
 * The test environment as tests and scripts see it: the variables of `.testenv/env`, and
 * one-call helpers (create a repo and push files, push an image, a kube client).
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeHttp } from '../../src/kube/http.js';
import { commitAndPush, newRepo, type FileChanges, type GitServer } from './gitrepo.js';
import { pushImage } from './oci.js';
import { envFile } from './paths.js';

export interface TestEnv {
  KUBECONFIG: string;
  APISERVER_URL: string;
  /** The API server's audit log (JSON lines): every write, see cluster.ts. */
  AUDIT_LOG: string;
  GIT_BASE_URL: string;
  GIT_USERNAME: string;
  GIT_TOKEN: string;
  GIT_REPOS_DIR: string;
  /** `ssh://<user>@127.0.0.1:<port><reposDir>`: `$GIT_SSH_BASE_URL/NAME.git` is repository NAME over SSH (sshd.ts). */
  GIT_SSH_BASE_URL: string;
  /** The private key the sshd accepts (a file, 0600). */
  GIT_SSH_KEY: string;
  /** known_hosts with the sshd's host key (a file). */
  GIT_SSH_KNOWN_HOSTS: string;
  REGISTRY: string;
  REGISTRY_USERNAME: string;
  REGISTRY_PASSWORD: string;
  REGISTRY_NOTIFY_TOKEN: string;
  REGISTRY_LOG: string;
  NOTIFY_RELAY_URL: string;
  TESTENV_DIR: string;
  KUBECTL: string;
}

export function formatEnvFile(env: TestEnv): string {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  return `${Object.entries(env)
    .map(([key, value]) => `export ${key}=${quote(String(value))}`)
    .join('\n')}\n`;
}

export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line);
    if (match?.[1]) env[match[1]] = (match[2] ?? '').replace(/'\\''/g, "'");
  }
  return env;
}

/** Reads `.testenv/env`; fails with what to run when the environment is not up. */
export function loadTestEnv(path = envFile): TestEnv {
  if (!existsSync(path)) throw new Error(`${path} not found: run 'npm run testenv -- up' first`);
  return parseEnvFile(readFileSync(path, 'utf8')) as unknown as TestEnv;
}

export function gitServer(env: TestEnv): GitServer {
  return { baseUrl: env.GIT_BASE_URL, username: env.GIT_USERNAME, token: env.GIT_TOKEN, reposDir: env.GIT_REPOS_DIR };
}

let repoCounter = 0;

/** Creates a uniquely named repository and pushes `files` as its first commit. */
export async function createRepo(env: TestEnv, prefix: string, files: FileChanges, message = 'initial'): Promise<{ url: string; commit: string }> {
  repoCounter += 1;
  const name = `${prefix}-${process.pid}-${repoCounter}-${Date.now().toString(36)}`;
  const url = await newRepo(gitServer(env), name);
  const commit = await commitAndPush(gitServer(env), url, files, { message });
  return { url, commit };
}

export function pushFiles(env: TestEnv, url: string, changes: FileChanges, message?: string, branch?: string): Promise<string> {
  return commitAndPush(gitServer(env), url, changes, { message, branch });
}

export function pushTestImage(env: TestEnv, name: string, tag: string, content: string): Promise<string> {
  return pushImage({ registry: env.REGISTRY, username: env.REGISTRY_USERNAME, password: env.REGISTRY_PASSWORD }, name, tag, content);
}

export function kube(env: TestEnv): Promise<KubeHttp> {
  return KubeHttp.fromKubeconfigFile(env.KUBECONFIG);
}
