/**
 * The git source: which commit is the branch at, and what does that commit contain.
 *
 * The git CLI does the work (see docs/adr/0003-git-cli.md), always through `execFile` with
 * an argument array, never a shell. Credentials reach git through its environment as an
 * HTTP header (`GIT_CONFIG_*`), so they never appear in argv, URLs, logs or error messages.
 * Commits are fetched shallowly by SHA into a bare cache repository per URL and checked out
 * into a fresh folder per sync. Over SSH, the key and known_hosts reach ssh through files
 * that exist only while one git command runs (source/ssh.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../bytes.js';
import { DorisError } from '../errors.js';
import { userAgent } from '../version.js';
import { explainSshFailure, isSshUrl, openSshSession, type SshCredentials } from './ssh.js';

export interface GitCredentials {
  username?: string;
  token?: string;
  /** For ssh:// and git@host:path URLs. */
  ssh?: SshCredentials;
}

/** git's environment for a fetch with basic-auth credentials; nothing sensitive on argv. */
export function gitEnvironment(credentials: GitCredentials = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ASKPASS: 'true',
    GIT_HTTP_USER_AGENT: userAgent(),
    LANG: 'C',
  };
  if (credentials.token) {
    const basic = Buffer.from(`${credentials.username || 'git'}:${credentials.token}`).toString('base64');
    // No redirects: git would send the extra header to whatever host it is redirected to.
    Object.assign(env, {
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      GIT_CONFIG_KEY_1: 'http.followRedirects',
      GIT_CONFIG_VALUE_1: 'false',
    });
  }
  return env;
}

export class GitError extends DorisError {
  constructor(message: string) {
    super('ArtifactFailed', message);
    this.name = 'GitError';
  }
}

/** Whether `text` is a full commit id (40 hex digits for SHA-1, 64 for SHA-256 repositories). */
function isCommitId(text: string): boolean {
  return /^[0-9a-f]{40,64}$/.test(text);
}

/**
 * The commit of `branch` in a FETCH_HEAD written by a fetch of that one branch
 * (`<sha>\t\tbranch '<branch>' of <url>`), or undefined when it names anything else.
 */
export function branchHeadOf(fetchHead: string, branch: string): string | undefined {
  const lines = fetchHead.split('\n').filter(Boolean);
  if (lines.length !== 1) return undefined;
  const [sha, marker, description] = lines[0]!.split('\t');
  if (sha === undefined || !isCommitId(sha) || marker !== '' || !description?.startsWith(`branch '${branch}' of `)) return undefined;
  return sha;
}

/** Removes anything that looks like a credential from git's messages before they travel. */
export function redact(text: string, credentials: GitCredentials): string {
  // An https user name may be the token itself; any other scheme's user name is kept, its password not.
  let out = text.replace(/(https?:\/\/)[^/@\s]+@/g, '$1***@').replace(/([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/gi, '$1:***@');
  if (credentials.token) out = out.split(credentials.token).join('***');
  // ssh never prints the key; this is only the last line of defence.
  out = out.replace(/-----BEGIN [^-]*PRIVATE KEY-----[\s\S]*?(-----END [^-]*PRIVATE KEY-----|$)/g, '***');
  return out.trim();
}

export interface GitSourceOptions {
  /** Folder for the bare cache repositories. */
  cacheDir: string;
  /** Per git command. */
  timeoutMs: number;
  /** Kills a running git command (SIGTERM of the controller): a shutdown never waits for git. */
  signal?: AbortSignal;
  /** The largest commit `checkout` writes (default `defaultCheckoutLimits`). */
  checkoutLimits?: CheckoutLimits;
}

/**
 * The largest tree a checkout writes, in bytes and files. Git compresses: a repository of
 * 2.5 MB can hold a 1.2 GiB file, and the work dir is the Pod's emptyDir (1 GiB in the shipped
 * Deployment), shared by every Pipeline's checkouts and git caches. Filled, it gets the Pod
 * evicted, every Pipeline stops, and the retry does it again. A commit past the limits is
 * refused before anything is written.
 */
export interface CheckoutLimits {
  bytes: number;
  files: number;
}

/** 256 MiB and 100,000 files: a few Pipelines' checkouts at once still fit the emptyDir. */
export const defaultCheckoutLimits: CheckoutLimits = { bytes: 256 * 1024 * 1024, files: 100_000 };

/** Files and bytes of a tree as `git ls-tree -r -l -z` lists it (submodule entries have no size). */
export function treeSize(listing: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of listing.split('\0')) {
    if (!entry) continue;
    files += 1;
    // "<mode> <type> <object> <size>\t<path>"; the size is "-" for a submodule.
    const size = Number(entry.slice(0, entry.indexOf('\t')).trim().split(/\s+/)[3]);
    if (Number.isFinite(size)) bytes += size;
  }
  return { files, bytes };
}

export class GitSource {
  private readonly bare: string;

  constructor(
    readonly url: string,
    private readonly credentials: GitCredentials,
    private readonly options: GitSourceOptions,
  ) {
    const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
    this.bare = join(options.cacheDir, `repo-${key}.git`);
  }

  private git(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        args,
        {
          env: { ...gitEnvironment(this.credentials), ...extraEnv },
          timeout: this.options.timeoutMs,
          maxBuffer: 64 * 1024 * 1024,
          signal: this.options.signal,
        },
        (error, stdout, stderr) => {
          if (error) {
            const explained = isSshUrl(this.url) ? explainSshFailure(String(stderr), this.url) : undefined;
            const detail = explained ?? redact(String(stderr || error.message), this.credentials);
            reject(new GitError(`git ${args[0] === '--git-dir' ? args[2] : args[0]} ${redact(this.url, this.credentials)}: ${detail}`));
          } else resolve(stdout);
        },
      );
    });
  }

  /** A git command that talks to the server: over SSH, with the key and known_hosts for its length only. */
  private async remote(args: string[]): Promise<string> {
    if (!isSshUrl(this.url)) return this.git(args);
    if (!this.credentials.ssh) {
      throw new GitError(
        `git over SSH to ${redact(this.url, this.credentials)} needs an identity and known_hosts: a Secret with keys "identity" and "known_hosts" (spec.git.secretRef), or --ssh-key-file and --known-hosts-file`,
      );
    }
    mkdirSync(this.options.cacheDir, { recursive: true });
    const session = openSshSession(this.credentials.ssh, this.options.cacheDir);
    try {
      return await this.git(args, session.env);
    } finally {
      session.dispose();
    }
  }

  private async ensureBare(): Promise<void> {
    if (existsSync(join(this.bare, 'HEAD'))) return;
    mkdirSync(this.options.cacheDir, { recursive: true });
    await this.git(['init', '--quiet', '--bare', this.bare]);
  }

  /** The commit the branch points at, asked of the server (`git ls-remote`). */
  async resolveBranch(branch: string): Promise<string> {
    const ref = `refs/heads/${branch}`;
    const out = await this.remote(['ls-remote', '--refs', '--', this.url, ref]);
    // ls-remote matches the end of ref names: keep only the exact ref.
    const sha = out
      .split('\n')
      .map((line) => line.split('\t'))
      .find(([, name]) => name?.trim() === ref)?.[0]
      ?.trim();
    if (!sha || !isCommitId(sha)) {
      throw new GitError(`branch ${branch} not found in ${redact(this.url, this.credentials)}`);
    }
    return sha;
  }

  private async hasCommit(sha: string): Promise<boolean> {
    try {
      await this.git(['--git-dir', this.bare, 'cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Makes `sha` available locally: a shallow fetch of that one commit. The cache is only a
   * cache: when a fetch fails on it (a process killed mid-fetch leaves lock files and
   * half-written packs behind), it is thrown away and the fetch tried once more afresh.
   */
  async fetchCommit(sha: string, branch: string): Promise<void> {
    try {
      await this.fetchInto(sha, branch);
    } catch {
      rmSync(this.bare, { recursive: true, force: true });
      await this.fetchInto(sha, branch);
    }
  }

  /**
   * The branch head, asked of the server and fetched in one `git fetch`, where `resolveBranch`
   * then `fetchCommit` take two round trips: for a sync a push triggered, whose head is new.
   * Undefined when FETCH_HEAD does not name this branch's head (a fetch of another branch of
   * the same repository, for another Pipeline, wrote it meanwhile); throws when git fails.
   */
  async fetchBranchHead(branch: string): Promise<string | undefined> {
    await this.ensureBare();
    await this.remote(['--git-dir', this.bare, 'fetch', '--quiet', '--no-tags', '--depth=1', '--', this.url, `refs/heads/${branch}`]);
    return branchHeadOf(readFileSync(join(this.bare, 'FETCH_HEAD'), 'utf8'), branch);
  }

  private async fetchInto(sha: string, branch: string): Promise<void> {
    await this.ensureBare();
    if (await this.hasCommit(sha)) return;
    try {
      // A fetch by SHA fails unless the server sent that commit: no need to look again.
      await this.remote(['--git-dir', this.bare, 'fetch', '--quiet', '--no-tags', '--depth=1', '--', this.url, sha]);
      return;
    } catch {
      // Servers that refuse a want by SHA: fetch the branch tip instead.
      await this.remote(['--git-dir', this.bare, 'fetch', '--quiet', '--no-tags', '--depth=1', '--', this.url, `refs/heads/${branch}`]);
    }
    if (!(await this.hasCommit(sha))) throw new GitError(`commit ${sha} is not reachable from ${branch} any more`);
  }

  /**
   * The commits after `from` up to `to`, oldest first, following first parents; `undefined`
   * when `from` is not an ancestor of `to` (history was rewritten).
   */
  async commitsBetween(from: string, to: string, branch: string): Promise<string[] | undefined> {
    await this.ensureBare();
    // each-commit needs the history between the two: deepen the cache to the full branch.
    const shallow = existsSync(join(this.bare, 'shallow'));
    await this.remote(['--git-dir', this.bare, 'fetch', '--quiet', '--no-tags', ...(shallow ? ['--unshallow'] : []), '--', this.url, `refs/heads/${branch}`]);
    if (!(await this.hasCommit(from))) return undefined;
    try {
      await this.git(['--git-dir', this.bare, 'merge-base', '--is-ancestor', from, to]);
    } catch {
      return undefined;
    }
    const out = await this.git(['--git-dir', this.bare, 'rev-list', '--reverse', '--first-parent', `${from}..${to}`]);
    return out.split('\n').filter(Boolean);
  }

  /**
   * `git archive --format=tar <sha>:<path>`: the folder's tree as a tar (the hub's bundles).
   * The commit must have been fetched. A path that is not a folder of the commit is a
   * BuildFailed error (the repository's fault, not the git server's), and so is an archive
   * over `maxBytes` (git is stopped there: a huge folder never sits whole in memory).
   */
  async archive(sha: string, path: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    const folder = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const treeish = folder === '' || folder === '.' ? `${sha}^{tree}` : `${sha}:${folder}`;
    let type = '';
    try {
      type = (await this.git(['--git-dir', this.bare, 'cat-file', '-t', treeish])).trim();
    } catch {}
    if (type !== 'tree') throw new DorisError('BuildFailed', `${path}: folder does not exist in commit ${sha}`);
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['--git-dir', this.bare, 'archive', '--format=tar', treeish],
        {
          env: gitEnvironment(this.credentials),
          timeout: this.options.timeoutMs,
          maxBuffer: maxBytes,
          signal: this.options.signal,
          encoding: 'buffer',
        },
        (error, stdout, stderr) => {
          if ((error as { code?: string } | null)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
            reject(new DorisError('BuildFailed', `${path}: the folder's archive is larger than ${formatBytes(maxBytes)}; refused`));
          } else if (error) reject(new GitError(`git archive ${sha.slice(0, 12)}:${folder}: ${redact(String(stderr || error.message), this.credentials)}`));
          else resolve(stdout);
        },
      );
    });
  }

  /** Refuses a commit whose tree is past `CheckoutLimits`, before anything is written. */
  private async checkTreeSize(sha: string): Promise<void> {
    const limits = this.options.checkoutLimits ?? defaultCheckoutLimits;
    let listing: string;
    try {
      listing = await this.git(['--git-dir', this.bare, 'ls-tree', '-r', '-l', '-z', '--full-tree', sha]);
    } catch (error) {
      // Only a listing of millions of files outgrows the output buffer.
      if (error instanceof GitError && /maxBuffer/i.test(error.message)) {
        throw new DorisError('BuildFailed', `commit ${sha.slice(0, 12)}: its tree holds more than ${limits.files} files, the limit of a checkout; refused`);
      }
      throw error;
    }
    const { files, bytes } = treeSize(listing);
    if (files > limits.files || bytes > limits.bytes) {
      throw new DorisError(
        'BuildFailed',
        `commit ${sha.slice(0, 12)}: its tree holds ${files} files, ${formatBytes(bytes)}, over the limit of a checkout (${limits.files} files, ${formatBytes(limits.bytes)}); refused before writing it. Keep large files out of the repository DORIS reads`,
      );
    }
  }

  /** Writes the tree of `sha` into a new folder under `parent`; the caller removes it. */
  async checkout(sha: string, parent: string): Promise<string> {
    await this.checkTreeSize(sha);
    mkdirSync(parent, { recursive: true });
    const dir = mkdtempSync(join(parent, `tree-${sha.slice(0, 12)}-`));
    // A private index file: the shared cache repository's own state is never touched.
    const index = join(dir, '..', `.index-${sha.slice(0, 12)}-${process.pid}-${Date.now()}`);
    try {
      // One process: read the tree into the private index and write its files (-u).
      await this.git(['--git-dir', this.bare, `--work-tree=${dir}`, 'read-tree', '--reset', '-u', sha], { GIT_INDEX_FILE: index });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    } finally {
      rmSync(index, { force: true });
    }
    return dir;
  }
}
