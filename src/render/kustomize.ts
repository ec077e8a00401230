/**
 * Kustomize folders (docs/adr/0012-kustomize.md). A wave folder, or a step folder inside a
 * wave (`<number>-<name>/`), that holds a `kustomization.yaml` is built with the real
 * `kustomize build`, and its output takes the folder's place: the objects go through the same
 * parsing, limits, stamping, image pinning, config hashes, pre-write validation and ordering
 * as objects written in plain files.
 *
 * A repository is untrusted, and kustomize can reach far beyond it: remote bases (git clones
 * and HTTP fetches), exec and container functions, legacy plugins, Helm. So before kustomize
 * runs, every kustomization the folder reaches is read here and checked (`checkKustomization`):
 *
 * - a reference that is not a path inside the repository (a URL, `github.com/org/repo//x`, a
 *   path that does not exist) is refused unless the Pipeline allows remote bases
 *   (`spec.kustomize.allowRemote`);
 * - a path that leaves the repository, by `../` or through a symlink, is always refused;
 * - generators, transformers and validators that are not kustomize's built-ins (exec or
 *   container KRM functions, legacy plugins) are refused unless `spec.kustomize.allowPlugins`;
 * - `helmCharts` are refused (DORIS ships no helm).
 *
 * Kustomize then runs with its own load restrictor (`LoadRestrictionsRootOnly`), without the
 * flags that enable plugins unless they are allowed, with an environment that holds no
 * credentials (and, unless remote bases are allowed, no PATH for git and an unreachable HTTP
 * proxy), with `execFile` and an argument array, a timeout and a bound on its output. Its
 * errors come back naming the folder, with kustomize's message and paths relative to the
 * repository.
 */
import { execFile } from 'node:child_process';
import { lstat, open, realpath, stat } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { type Document, parseAllDocuments } from 'yaml';
import { findTooDeep } from './nesting.js';
import { printable } from './problems.js';
import { defaultYamlLimits } from './yaml.js';

/** What a Pipeline allows kustomize to do (`spec.kustomize`). */
export interface KustomizePolicy {
  /** Remote bases and resources (git repositories, HTTP URLs). Default false. */
  allowRemote: boolean;
  /** Exec and container KRM functions and legacy plugins as generators and transformers. Default false. */
  allowPlugins: boolean;
}

export interface KustomizeOptions {
  /** The `kustomize` executable: a path, or a name looked up on PATH. */
  binary: string;
  policy: KustomizePolicy;
  /** How long one `kustomize build` may run. Default 60 s. */
  timeoutMs: number;
  /** Largest output of one `kustomize build`, in bytes. Default 16 MiB. */
  maxOutputBytes: number;
}

/** The executable: `DORIS_KUSTOMIZE_PATH` (what `--kustomize-path` sets), else `kustomize` on PATH. */
export function kustomizeBinary(): string {
  return process.env.DORIS_KUSTOMIZE_PATH || 'kustomize';
}

export function defaultKustomizeOptions(): KustomizeOptions {
  return {
    binary: kustomizeBinary(),
    policy: { allowRemote: false, allowPlugins: false },
    timeoutMs: 60_000,
    maxOutputBytes: 16 * 1024 * 1024,
  };
}

/** The names kustomize accepts for a kustomization, in the order it looks for them. */
export const kustomizationFileNames = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

/** The kustomization file of a folder (its real path), if the folder holds one. */
export async function findKustomizationFile(dirReal: string): Promise<string | undefined> {
  for (const name of kustomizationFileNames) {
    const path = nodePath.join(dirReal, name);
    const stats = await lstat(path).catch(() => undefined);
    if (stats) return path;
  }
  return undefined;
}

/** Largest kustomization file read by the check. */
const maxKustomizationBytes = 1024 * 1024;
/** Deepest YAML nesting the check parses: the parser recurses, as for manifests (`nesting.ts`). */
const maxKustomizationDepth = defaultYamlLimits().maxDepth;
/** Most kustomizations one folder may reach (bases of bases...). */
const maxKustomizations = 500;

/** Kinds kustomize runs itself (apiVersion `builtin`), as generator and transformer configs. */
const BUILTIN_API_VERSIONS = new Set(['builtin', 'builtin/v1']);

/** A remote reference in any of kustomize's spellings: a URL, `git@host:...`, `host/org/repo//path?ref=`. */
function looksRemote(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || /^[^/\s]+@[^/\s:]+:/.test(ref) || ref.includes('?ref=') || ref.includes('//');
}

function escapes(relative: string): boolean {
  return relative === '..' || relative.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(relative);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A path shown to users: relative to the repository root, with forward slashes. */
function shown(realRoot: string, path: string): string {
  return nodePath.relative(realRoot, path).split(nodePath.sep).join('/') || '.';
}

/**
 * The text of a file the check reads, or why it is refused. A kustomization file is found by
 * name (`lstat`), so it may be a symlink: to `/dev/zero` (endless), to a mounted token, to
 * nothing, or a folder. Only a regular file inside the repository is read, and never past
 * `maxKustomizationBytes`, whatever its size said.
 */
async function readRepoFile(realRoot: string, path: string, where: string): Promise<{ text: string } | { refusal: string }> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return { refusal: `${where}: symlink with no target; refused` };
  }
  if (escapes(nodePath.relative(realRoot, real))) return { refusal: `${where}: leads outside the repository through a symlink; refused` };
  const stats = await stat(real);
  if (!stats.isFile()) return { refusal: `${where}: not a regular file; refused` };
  const tooLarge = (size: number | string) => ({ refusal: `${where}: ${size} bytes, over the limit of ${maxKustomizationBytes}; refused` });
  if (stats.size > maxKustomizationBytes) return tooLarge(stats.size);
  const handle = await open(real, 'r');
  try {
    // One byte more than its stat said: a file that grew since cannot pass unread.
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > stats.size) return { refusal: `${where}: grew while it was read; refused` };
    return { text: buffer.toString('utf8', 0, length) };
  } finally {
    await handle.close();
  }
}

/**
 * The YAML documents of a file the check reads, or why they cannot be read: nesting is
 * bounded before parsing (the parser would overflow the stack), and the parser's own throws
 * become a refusal naming the file.
 */
function parseChecked(text: string, where: string): { docs: Document.Parsed[] } | { refusal: string } {
  const deep = findTooDeep(text, maxKustomizationDepth);
  if (deep) return { refusal: `${where}:${deep.line}:${deep.col}: nesting deeper than ${maxKustomizationDepth} levels; refused` };
  try {
    return { docs: parseAllDocuments(text) };
  } catch (error) {
    return { refusal: `${where}: not valid YAML: ${firstLine(error)}` };
  }
}

/** A document as plain data, or why not (too many aliases): what is not read cannot pass. */
function toData(doc: Document.Parsed, where: string): { value: unknown } | { refusal: string } {
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    return { refusal: `${where}: ${firstLine(error)}; refused` };
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/**
 * Reads every kustomization `dirReal` reaches and returns why it must not be built (empty:
 * it may be). `realRoot` is the repository's real path: nothing outside it may be read.
 */
export async function checkKustomization(realRoot: string, dirReal: string, policy: KustomizePolicy): Promise<string[]> {
  const refusals: string[] = [];
  const visited = new Set<string>();
  const queue: string[] = [dirReal];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (visited.has(dir)) continue;
    visited.add(dir);
    if (visited.size > maxKustomizations) {
      refusals.push(`reaches more than ${maxKustomizations} kustomizations; refused`);
      break;
    }
    const file = await findKustomizationFile(dir);
    if (!file) continue; // a plain folder of resources: kustomize says what it makes of it
    const where = shown(realRoot, file);
    const read = await readRepoFile(realRoot, file, where);
    const parsed = 'text' in read ? parseChecked(read.text, where) : read;
    if ('refusal' in parsed) {
      refusals.push(parsed.refusal);
      continue;
    }
    const doc = parsed.docs[0];
    if (!doc || doc.errors.length > 0) {
      refusals.push(`${where}: not valid YAML${doc?.errors[0] ? `: ${firstLine(doc.errors[0])}` : ''}`);
      continue;
    }
    const data = toData(doc, where);
    if ('refusal' in data) {
      refusals.push(data.refusal);
      continue;
    }
    const k = asRecord(data.value) ?? {};
    const refuse = (message: string) => refusals.push(`${where}: ${message}`);

    /** Checks one reference; returns its real path when it is a local one that exists. */
    const local = async (field: string, ref: string): Promise<string | undefined> => {
      if (looksRemote(ref)) {
        if (!policy.allowRemote) refuse(`${field}: remote reference ${JSON.stringify(ref)} refused (spec.kustomize.allowRemote is false)`);
        return undefined;
      }
      const target = nodePath.resolve(dir, ref);
      if (escapes(nodePath.relative(realRoot, target))) {
        refuse(`${field}: ${JSON.stringify(ref)} leaves the repository; refused`);
        return undefined;
      }
      let real: string;
      try {
        real = await realpath(target);
      } catch {
        // kustomize would take a missing path for a remote one and try to fetch it.
        if (!policy.allowRemote) refuse(`${field}: ${JSON.stringify(ref)} does not exist in the repository (remote references are refused)`);
        return undefined;
      }
      if (escapes(nodePath.relative(realRoot, real))) {
        refuse(`${field}: ${JSON.stringify(ref)} leads outside the repository through a symlink; refused`);
        return undefined;
      }
      return real;
    };
    const follow = async (field: string, ref: string): Promise<void> => {
      const real = await local(field, ref);
      if (real && (await stat(real)).isDirectory()) queue.push(real);
    };
    const plugins = async (field: string, entries: unknown): Promise<void> => {
      for (const entry of strings(entries)) {
        // An entry with a newline is an inline config, not a path.
        if (entry.includes('\n')) {
          checkPluginConfigs(entry, `${field} (inline)`, policy, refuse);
          continue;
        }
        const real = await local(field, entry);
        if (!real) continue;
        if ((await stat(real)).isDirectory()) {
          queue.push(real);
          continue;
        }
        const config = await readRepoFile(realRoot, real, `${field} ${entry}`);
        if ('text' in config) checkPluginConfigs(config.text, `${field} ${entry}`, policy, refuse);
        else refuse(config.refusal);
      }
    };

    for (const field of ['resources', 'bases', 'components'] as const) {
      for (const ref of strings(k[field])) await follow(field, ref);
    }
    for (const field of ['crds', 'configurations'] as const) {
      for (const ref of strings(k[field])) await local(field, ref);
    }
    for (const ref of strings(k.patchesStrategicMerge)) if (!ref.includes('\n')) await local('patchesStrategicMerge', ref);
    for (const field of ['patches', 'patchesJson6902', 'replacements'] as const) {
      for (const item of Array.isArray(k[field]) ? (k[field] as unknown[]) : []) {
        const path = asRecord(item)?.path;
        if (typeof path === 'string') await local(field, path);
      }
    }
    const openapi = asRecord(k.openapi)?.path;
    if (typeof openapi === 'string') await local('openapi', openapi);
    for (const field of ['configMapGenerator', 'secretGenerator'] as const) {
      for (const item of Array.isArray(k[field]) ? (k[field] as unknown[]) : []) {
        const generator = asRecord(item) ?? {};
        // `files` entries may be `key=path`.
        for (const ref of strings(generator.files)) await local(`${field}.files`, ref.includes('=') ? ref.slice(ref.indexOf('=') + 1) : ref);
        for (const ref of [...strings(generator.envs), ...strings(generator.env)]) await local(`${field}.envs`, ref);
      }
    }
    for (const field of ['generators', 'transformers', 'validators'] as const) await plugins(field, k[field]);
    if (k.helmCharts !== undefined || k.helmChartInflationGenerator !== undefined)
      refuse('helmCharts: Helm charts are not supported (DORIS runs no helm); refused');
  }
  return refusals;
}

/** Generator and transformer configs that are not kustomize built-ins are plugins. */
function checkPluginConfigs(text: string, where: string, policy: KustomizePolicy, refuse: (message: string) => void): void {
  if (policy.allowPlugins) return;
  const parsed = parseChecked(text, where);
  if ('refusal' in parsed) {
    refuse(parsed.refusal);
    return;
  }
  for (const doc of parsed.docs) {
    if (doc.errors.length > 0) continue; // kustomize reports broken YAML itself
    const data = toData(doc, where);
    if ('refusal' in data) {
      refuse(data.refusal);
      continue;
    }
    const config = asRecord(data.value);
    if (!config) continue;
    const annotations = asRecord(asRecord(config.metadata)?.annotations) ?? {};
    const fn = annotations['config.kubernetes.io/function'];
    const kind = typeof config.kind === 'string' ? config.kind : '?';
    if (fn !== undefined) {
      const how = typeof fn === 'string' && /^\s*exec\s*:/m.test(fn) ? 'an exec function (runs a program)' : 'a KRM function';
      refuse(`${where}: ${kind} is ${how}; refused (spec.kustomize.allowPlugins is false)`);
    } else if (!BUILTIN_API_VERSIONS.has(String(config.apiVersion))) {
      refuse(`${where}: ${kind} (${String(config.apiVersion)}) is not a kustomize built-in but a plugin; refused (spec.kustomize.allowPlugins is false)`);
    }
  }
}

/** The environment kustomize runs with: nothing of DORIS's own (no tokens, no kubeconfig). */
function kustomizeEnv(policy: KustomizePolicy): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME ?? '/tmp', TMPDIR: process.env.TMPDIR ?? '/tmp' };
  if (policy.allowRemote) {
    env.PATH = process.env.PATH ?? '/usr/bin:/bin';
    for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy']) {
      if (process.env[name] !== undefined) env[name] = process.env[name];
    }
  } else {
    // A reference the check missed still cannot reach the network: no git on PATH, and
    // kustomize's HTTP loader goes to a port where nothing listens.
    env.PATH = '';
    env.HTTPS_PROXY = 'http://127.0.0.1:9';
    env.HTTP_PROXY = 'http://127.0.0.1:9';
  }
  if (!policy.allowPlugins) env.XDG_CONFIG_HOME = '/nonexistent';
  return env;
}

/** Why a build failed, or its output. */
export type BuildResult = { ok: true; output: Buffer } | { ok: false; message: string };

/** Bounded, printable, and with the checkout's paths made relative to the repository. */
function cleanMessage(text: string, realRoot: string): string {
  const relative = text.split(`${realRoot}${nodePath.sep}`).join('').split(realRoot).join('.');
  const lines = relative
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const joined = lines.join('; ');
  return printable(joined.length > 2000 ? `${joined.slice(0, 2000)}...` : joined);
}

/** Runs `kustomize build` on a folder that passed `checkKustomization`. Never throws. */
export function runKustomize(realRoot: string, dirReal: string, options: KustomizeOptions): Promise<BuildResult> {
  const args = ['build', dirReal, '--load-restrictor', 'LoadRestrictionsRootOnly'];
  if (options.policy.allowPlugins) args.push('--enable-alpha-plugins', '--enable-exec');
  return new Promise((resolve) => {
    execFile(
      options.binary,
      args,
      {
        cwd: realRoot,
        env: kustomizeEnv(options.policy),
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: options.maxOutputBytes,
        encoding: 'buffer',
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, output: stdout });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return resolve({
            ok: false,
            message: `kustomize is not installed: ${JSON.stringify(options.binary)} was not found (put kustomize on PATH, or give --kustomize-path or DORIS_KUSTOMIZE_PATH)`,
          });
        }
        if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return resolve({ ok: false, message: `kustomize build output is over the limit of ${options.maxOutputBytes} bytes; refused` });
        }
        if ((error as { killed?: boolean }).killed) {
          return resolve({ ok: false, message: `kustomize build did not finish within ${options.timeoutMs / 1000} s; stopped` });
        }
        const message = cleanMessage(stderr.toString('utf8'), realRoot) || error.message;
        resolve({ ok: false, message: `kustomize build failed: ${message}` });
      },
    );
  });
}

/**
 * Checks and builds the kustomization in `dirReal`. The result's message is what to report
 * against the folder; the output is the YAML kustomize printed.
 */
export async function buildKustomization(realRoot: string, dirReal: string, options: KustomizeOptions): Promise<BuildResult> {
  const refusals = await checkKustomization(realRoot, dirReal, options.policy);
  if (refusals.length > 0) return { ok: false, message: `kustomization refused: ${refusals.map(printable).join('; ')}` };
  return runKustomize(realRoot, dirReal, options);
}
