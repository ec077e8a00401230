/**
 * Running the real `doris` CLI in tests, as a child process (as a user or a CronJob would),
 * against the test environment. The git token travels in the environment, never in argv.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
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

/**
 * Everything DORIS printed during the suite goes to one file, which the last test reads to
 * prove that no token or password ever appeared in DORIS's output.
 */
export function outputLog(env: TestEnv): string {
  return join(env.TESTENV_DIR, 'logs', 'doris-output.log');
}

function capture(env: TestEnv, text: string): void {
  if (text) appendFileSync(outputLog(env), text.endsWith('\n') ? text : `${text}\n`);
}

export function dorisEnv(env: TestEnv): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: env.KUBECONFIG, DORIS_GIT_USERNAME: env.GIT_USERNAME, DORIS_GIT_TOKEN: env.GIT_TOKEN };
}

export function startDoris(env: TestEnv, args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { cwd: repoRoot, env: dorisEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      capture(env, stdout + stderr);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done };
}

export function doris(env: TestEnv, args: string[]): Promise<CliResult> {
  return startDoris(env, args).done;
}

/** `doris sync --once` of an inline Pipeline `name` following `url`. */
export function syncInline(env: TestEnv, name: string, url: string, extra: string[] = []): Promise<CliResult> {
  return doris(env, ['sync', '--once', '--repo', url, '--name', name, ...extra]);
}

/** A `doris run` controller started by a test: its port, its logs so far, and a way to stop it by PID. */
export interface RunningController {
  child: ChildProcess;
  url: string;
  logs: () => string;
  exited: Promise<CliResult>;
  /** SIGTERM (graceful) or SIGKILL; resolves when the process is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<CliResult>;
}

export function startController(
  env: TestEnv,
  args: string[],
  options: { kubeconfig?: string; port: number; extraEnv?: NodeJS.ProcessEnv; nodeFlags?: string[] },
): RunningController {
  return startServer(env, ['run', '--listen', `127.0.0.1:${options.port}`, ...args], options);
}

/** A long-running `doris` command that serves HTTP on `options.port` (`doris run`, `doris hub`). */
export function startServer(
  env: TestEnv,
  args: string[],
  options: { kubeconfig?: string; port: number; extraEnv?: NodeJS.ProcessEnv; nodeFlags?: string[] },
): RunningController {
  // Node flags go before the entry point: the child is the node process that runs main.ts.
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', cliEntry, ...args], {
    cwd: repoRoot,
    env: { ...dorisEnv(env), ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}), ...options.extraEnv },
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      capture(env, out);
      resolve({ code, signal, stdout: out, stderr: '' });
    }),
  );
  return {
    child,
    url: `http://127.0.0.1:${options.port}`,
    logs: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
