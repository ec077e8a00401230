/** What every `doris` command shares: exit codes, connection, output. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { durationSchema, parseDuration, type Pipeline } from '../api/pipeline.js';
import { HttpKubeClient, type KubeClient } from '../kube/client.js';
import { KubeHttp } from '../kube/http.js';
import { loadConnection } from '../kube/kubeconfig.js';
import { UnknownKindError } from '../kube/discovery.js';
import { getPipeline, listPipelines } from '../status/store.js';

/**
 * The same outcome exits with the same code in every command:
 * - 0: done (diff: no changes);
 * - 1: the work failed (a sync, a check, validation errors) — or, for `diff`, there are changes;
 * - 2: a usage error (unknown flag, bad value, missing argument);
 * - 3: what the command names does not exist (a Pipeline, the install);
 * - 4: the cluster cannot be reached (no kubeconfig, connection refused, TLS or credentials refused).
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2, notFound: 3, unreachable: 4 } as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  readonly code = 'Usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the command names does not exist: exit code 3. */
export class NotFoundError extends Error {
  readonly code = 'NotFound';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The cluster cannot be reached or refuses our credentials: exit code 4. */
export class UnreachableError extends Error {
  readonly code = 'Unreachable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnreachableError';
  }
}

/** Node's errors for a server that is not there (or not who it claims to be). */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True for an error that means "no cluster here", not "the cluster said no". */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && networkCodes.has(code);
}

/** The exit code of an error that reached the top. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof NotFoundError) return ExitCode.notFound;
  if (error instanceof UnreachableError || isNetworkError(error)) return ExitCode.unreachable;
  return ExitCode.failed;
}

export type OutputFormat = 'text' | 'json' | 'yaml';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  output: OutputFormat;
  workDir: string;
}

export const defaultWorkDir = join(tmpdir(), 'doris');

/**
 * A client for the cluster of `--kubeconfig` / `--context` (else KUBECONFIG, in-cluster,
 * ~/.kube/config). Nothing is sent yet: a cluster that is not there shows at the first request.
 */
export async function connect(options: Pick<GlobalOptions, 'kubeconfig' | 'context'>): Promise<KubeClient> {
  let connection: Awaited<ReturnType<typeof loadConnection>>;
  try {
    connection = await loadConnection(options.kubeconfig, options.context);
  } catch (error) {
    throw new UnreachableError(`cannot load the kubeconfig: ${(error as Error).message}`, { cause: error });
  }
  return new HttpKubeClient(await KubeHttp.connect(connection));
}

/** The server a client talks to, for messages. */
export function serverOf(client: KubeClient): string {
  return client instanceof HttpKubeClient ? client.http.server.origin : 'the cluster';
}

/** No Pipeline kind in the cluster means no DORIS: said so, as "not found". */
function notInstalled(error: unknown): unknown {
  return error instanceof UnknownKindError ? new NotFoundError('the cluster has no Pipeline CRD: DORIS is not installed (doris bootstrap installs it)') : error;
}

/** A Pipeline that must exist: `NotFoundError` (exit 3) otherwise. */
export async function requirePipeline(client: KubeClient, namespace: string, name: string): Promise<Pipeline> {
  const pipeline = await getPipeline(client, namespace, name).catch((error: unknown) => {
    throw notInstalled(error);
  });
  if (!pipeline) throw new NotFoundError(`Pipeline ${namespace}/${name} not found`);
  return pipeline;
}

/** Runs `use` with the named Pipeline (`NotFoundError` when it does not exist) and the connection it was read with, closed after. */
export async function withPipeline(
  options: Pick<GlobalOptions, 'kubeconfig' | 'context' | 'namespace'>,
  name: string,
  use: (pipeline: Pipeline, client: KubeClient) => Promise<void>,
): Promise<void> {
  const client = await connect(options);
  try {
    await use(await requirePipeline(client, options.namespace, name), client);
  } finally {
    client.close();
  }
}

/** The Pipelines of the controller namespace; `NotFoundError` when DORIS is not installed. */
export async function pipelinesIn(client: KubeClient, namespace: string): Promise<Pipeline[]> {
  return listPipelines(client, namespace).catch((error: unknown) => {
    throw notInstalled(error);
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printYaml(value: unknown): void {
  process.stdout.write(stringify(value, { lineWidth: 0 }));
}

/** Prints a result as JSON or YAML (`--output json|yaml`). */
export function printData(options: Pick<GlobalOptions, 'output'>, value: unknown): void {
  if (options.output === 'yaml') printYaml(value);
  else printJson(value);
}

/** Prints a result: as JSON or YAML when asked, else by `text`. */
export function printResult(options: Pick<GlobalOptions, 'output'>, value: unknown, text: () => void): void {
  if (options.output === 'json') printJson(value);
  else if (options.output === 'yaml') printYaml(value);
  else text();
}

/** One line of a result, to stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and human output go to stderr, so that `--output json` keeps stdout clean. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Rows as aligned columns (the widest cell of each column sets its width). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 2)))
      .join('')
      .trimEnd(),
  );
}

export function parseOutput(value: string): OutputFormat {
  if (value !== 'text' && value !== 'json' && value !== 'yaml') throw new InvalidArgumentError(`Expected text, json or yaml, not ${value}.`);
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
