/**
 * Repositories on the test git server: create one, then commit and push files to it in one
 * call. Credentials reach git through its environment (an extra HTTP header set with
 * GIT_CONFIG_* variables), never through argv or a URL.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gitEnvironment } from '../../src/source/git.js';

const execFileP = promisify(execFile);

export interface GitServer {
  baseUrl: string;
  username: string;
  token: string;
  reposDir: string;
}

/** The product's own git environment (credentials as a header), plus an author for commits. */
export function gitAuthEnv(server: Pick<GitServer, 'username' | 'token'>): NodeJS.ProcessEnv {
  return {
    ...gitEnvironment({ username: server.username, token: server.token }),
    // The git server's log tells the tests' own pushes from DORIS's fetches.
    GIT_HTTP_USER_AGENT: 'doris-tests',
    GIT_AUTHOR_NAME: 'DORIS tests',
    GIT_AUTHOR_EMAIL: 'tests@doris.dev',
    GIT_COMMITTER_NAME: 'DORIS tests',
    GIT_COMMITTER_EMAIL: 'tests@doris.dev',
  };
}

/** Creates an empty bare repository `<name>.git` on the server; returns its clone URL. */
export async function newRepo(server: GitServer, name: string): Promise<string> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(name)) throw new Error(`invalid repository name: ${name}`);
  const path = join(server.reposDir, `${name}.git`);
  if (existsSync(path)) throw new Error(`repository ${name} already exists`);
  await execFileP('git', ['init', '--quiet', '--bare', '--initial-branch=main', path]);
  await execFileP('git', ['-C', path, 'config', 'http.receivepack', 'true']);
  return `${server.baseUrl}/${name}.git`;
}

/**
 * Files to write (path -> content) or delete (path -> null), relative to the repo root. Bytes
 * are written as they are: a file that is not UTF-8 is test input too.
 */
export type FileChanges = Record<string, string | Uint8Array | null>;

/**
 * Clones `url`, applies the changes on `branch`, commits and pushes; returns the new commit
 * SHA. An empty repository is initialised on the first call.
 */
export async function commitAndPush(
  server: GitServer,
  url: string,
  changes: FileChanges,
  options: { message?: string; branch?: string } = {},
): Promise<string> {
  const branch = options.branch ?? 'main';
  const env = gitAuthEnv(server);
  const work = mkdtempSync(join(tmpdir(), 'doris-git-'));
  const git = (...args: string[]) => execFileP('git', ['-C', work, ...args], { env });
  try {
    await execFileP('git', ['clone', '--quiet', url, work], { env });
    const { stdout: heads } = await git('ls-remote', '--heads', 'origin', branch);
    if (heads.trim()) await git('checkout', '--quiet', branch);
    else await git('checkout', '--quiet', '--orphan', branch);
    for (const [file, content] of Object.entries(changes)) {
      const path = join(work, file);
      if (content === null) {
        await git('rm', '-r', '--quiet', '--ignore-unmatch', '--', file);
        rmSync(path, { recursive: true, force: true });
      } else {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
        await git('add', '--', file);
      }
    }
    await git('commit', '--quiet', '--allow-empty', '-m', options.message ?? 'test commit');
    await git('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    const { stdout } = await git('rev-parse', 'HEAD');
    return stdout.trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
