/** What every `doris` command shares: exit codes, connection, output. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectKube, type KubeClient } from '../kube/client.js';

export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface GlobalOptions {
  kubeconfig?: string;
  namespace: string;
  output: 'text' | 'json';
  workDir: string;
}

export const defaultWorkDir = join(tmpdir(), 'doris');

export function connect(options: GlobalOptions): Promise<KubeClient> {
  return connectKube(options.kubeconfig);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress and human output go to stderr, so that `--output json` keeps stdout clean. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function parseOutput(value: string): 'text' | 'json' {
  if (value !== 'text' && value !== 'json') throw new UsageError(`--output must be text or json, not ${value}`);
  return value;
}
