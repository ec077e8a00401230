/**
 * Running the real `doris` CLI in tests, as a child process (as a user or a CronJob would),
 * against the test environment. The git token travels in the environment, never in argv.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import type { TestEnv } from './testenv.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const cliEntry = join(repoRoot, 'src', 'cli', 'main.ts');

export function dorisEnv(env: TestEnv): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: env.KUBECONFIG, DORIS_GIT_USERNAME: env.GIT_USERNAME, DORIS_GIT_TOKEN: env.GIT_TOKEN };
}

export function startDoris(env: TestEnv, args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { cwd: repoRoot, env: dorisEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function doris(env: TestEnv, args: string[]): Promise<CliResult> {
  return startDoris(env, args).done;
}

/** `doris sync --once` of an inline Pipeline `name` following `url`. */
export function syncInline(env: TestEnv, name: string, url: string, extra: string[] = []): Promise<CliResult> {
  return doris(env, ['sync', '--once', '--repo', url, '--name', name, ...extra]);
}
