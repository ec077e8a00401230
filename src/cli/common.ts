/** What every `doris` command shares: exit codes, connection, output. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { durationSchema, parseDuration } from '../api/pipeline.js';
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

/*
 * Flags are validated like the Pipeline spec: a duration flag follows the spec's duration rule
 * (a unit is required — `10` is refused, not read as 0 — and it must be greater than zero), a
 * count is a whole number in range. A bad value is a usage error (exit 2) that names the flag
 * and shows a value that works. Parsers are commander argParsers: commander names the flag.
 */

/** A commander argParser for a duration flag: milliseconds, by the Pipeline spec's rule. */
export function durationFlag(example: string): (value: string) => number {
  return (value) => {
    const result = durationSchema.safeParse(value);
    if (!result.success) throw new InvalidArgumentError(`Expected ${result.error.issues[0]?.message ?? 'a duration'} (e.g. ${example}).`);
    return parseDuration(value);
  };
}

/** A commander argParser for a whole number within [min, max]. */
export function integerFlag(example: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`Expected a whole number ${range} (e.g. ${example}).`);
    }
    return n;
  };
}

/** `[HOST]:PORT` of a listen flag. */
export function listenFlag(example: string): (value: string) => { host: string; port: number } {
  const port = integerFlag(example, 0, 65_535);
  return (value) => {
    const match = /^(.*):([^:]*)$/.exec(value);
    if (!match) throw new InvalidArgumentError(`Expected [HOST]:PORT (e.g. ${example}).`);
    return { host: match[1]?.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: port(match[2]!) };
  };
}

/** Milliseconds as the shortest duration text the spec accepts (`90000` → `1m30s`), for help texts. */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text || '0ms';
}
