/**
 * The repository layout is the contract with users (SPEC section 1):
 *
 *     deploy/                  the configured path
 *       1-doris/               a wave: folder `<number>-<name>`, waves run in numeric order
 *         70-account.yml       a step: the files starting with the same `<number>-`
 *         170-deployment.yml
 *       2-influxdb/ ...
 *
 * Waves run one after the other (with a health wait in between); steps inside a wave run in
 * numeric order; numbers compare as numbers (2 before 10). Anything that does not fit the
 * pattern is reported and skipped — it never silently changes what is applied.
 *
 * The repository is untrusted: the configured path and every symlink must stay inside the
 * repository root, and file sizes are bounded. Every file is read before deciding, so one
 * render reports every problem at once; any error makes the whole render fail
 * (`RenderError`), so a half-broken commit is never half-applied.
 */
import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { RenderError } from './errors.js';
import { describeObject, groupOf } from './objectid.js';
import { compareProblems, makeProblem } from './problems.js';
import { isClusterScopedKind } from './scope.js';
import type { DesiredObject, Problem, RenderedRepo, Step, Wave } from './types.js';
import { defaultYamlLimits, parseManifests } from './yaml.js';

export interface RenderOptions {
  /** Largest single YAML file, in bytes; a larger file is an error and is not parsed. */
  maxFileBytes: number;
  /** Largest total size of all YAML files of one render, in bytes. */
  maxTotalBytes: number;
  /** Most alias expansions per YAML document (see `YamlLimits`), against alias bombs. */
  maxAliasCount: number;
  /**
   * Namespace that namespaced objects without `metadata.namespace` will land in. Only used to
   * detect duplicates here (metadata is left as written); unset, namespaces compare as written.
   */
  defaultNamespace?: string;
}

export function defaultRenderOptions(): RenderOptions {
  return { ...defaultYamlLimits(), maxTotalBytes: 64 * 1024 * 1024 };
}

const WAVE_FOLDER = /^(\d+)-(.+)$/;
const STEP_FILE = /^(\d+)-.*\.(ya?ml)$/;
const YAML_FILE = /\.ya?ml$/i;

/** A wave or step number from a name; `undefined` when it is too large to be exact. */
function numberOf(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A directory entry after following symlinks. */
interface Entry {
  name: string;
  /** Path relative to the repository root, with forward slashes: what users see. */
  display: string;
  /** Real path on disk. */
  real: string;
  stats: Stats;
}

/** Walks a repository without throwing: the waves found and every problem. */
class RepoWalker {
  readonly problems: Problem[] = [];

  constructor(private readonly realRoot: string) {}

  error(file: string, message: string, line?: number, col?: number): void {
    this.problems.push(makeProblem('error', file, message, line, col));
  }

  warning(file: string, message: string): void {
    this.problems.push(makeProblem('warning', file, message));
  }

  private inside(real: string): boolean {
    return !escapes(nodePath.relative(this.realRoot, real));
  }

  /** Lists a folder, following symlinks that stay in the repository and refusing others. */
  async list(dirReal: string, dirDisplay: string): Promise<Entry[]> {
    const dirents = await readdir(dirReal, { withFileTypes: true });
    dirents.sort((a, b) => compareStrings(a.name, b.name));
    const entries: Entry[] = [];
    for (const dirent of dirents) {
      const entry = await this.resolve(dirent, dirReal, dirDisplay);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  private async resolve(dirent: Dirent, dirReal: string, dirDisplay: string): Promise<Entry | undefined> {
    const name = dirent.name;
    const display = dirDisplay === '' ? name : `${dirDisplay}/${name}`;
    const path = nodePath.join(dirReal, name);
    if (!dirent.isSymbolicLink()) {
      return { name, display, real: path, stats: await stat(path) };
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      // A dangling link that would have been applied must not vanish silently.
      if (YAML_FILE.test(name) || WAVE_FOLDER.test(name)) {
        this.error(display, `symlink to "${await readlink(path)}" has no target; refused`);
      }
      return undefined;
    }
    if (!this.inside(real)) {
      this.error(display, `symlink to "${await readlink(path)}" leaves the repository; refused`);
      return undefined;
    }
    return { name, display, real, stats: await stat(real) };
  }
}

/**
 * Reads the repository without throwing: the waves that could be read and every problem
 * (errors and warnings). `renderRepo` is the strict form; `validate` reports from this one.
 */
export async function inspectRepo(
  repoRoot: string,
  path: string,
  options?: Partial<RenderOptions>,
): Promise<{ waves: Wave[]; problems: Problem[] }> {
  const opts: RenderOptions = { ...defaultRenderOptions(), ...definedOnly(options ?? {}) };
  const shownPath = path.split(nodePath.sep).join('/') || '.';

  let realRoot: string;
  try {
    realRoot = await realpath(repoRoot);
  } catch {
    return { waves: [], problems: [makeProblem('error', '.', 'repository root does not exist')] };
  }
  const walker = new RepoWalker(realRoot);

  if (nodePath.isAbsolute(path) || nodePath.win32.isAbsolute(path)) {
    walker.error(shownPath, 'path must be relative to the repository root; refused');
    return { waves: [], problems: walker.problems };
  }
  const relPath = nodePath.relative(realRoot, nodePath.resolve(realRoot, path));
  if (escapes(relPath)) {
    walker.error(shownPath, 'path leaves the repository root; refused');
    return { waves: [], problems: walker.problems };
  }
  const base = relPath.split(nodePath.sep).join('/');

  let baseReal: string;
  try {
    baseReal = await realpath(nodePath.join(realRoot, relPath));
  } catch {
    walker.error(shownPath, 'folder does not exist in the repository');
    return { waves: [], problems: walker.problems };
  }
  if (escapes(nodePath.relative(realRoot, baseReal))) {
    walker.error(shownPath, 'path leads outside the repository through a symlink; refused');
    return { waves: [], problems: walker.problems };
  }
  if (!(await stat(baseReal)).isDirectory()) {
    walker.error(shownPath, 'path is not a folder');
    return { waves: [], problems: walker.problems };
  }

  const waves = await findWaves(walker, baseReal, base);
  await readWaves(walker, waves, opts);
  findDuplicates(walker, waves, opts);

  walker.problems.sort(compareProblems);
  return { waves: waves.map((w) => w.wave), problems: walker.problems };
}

/**
 * Renders the repository folder `path` (relative to `repoRoot`) into its waves and steps.
 * Throws `RenderError` (code `BuildFailed`) listing every problem if any of them is an
 * error; otherwise the result carries the warnings.
 */
export async function renderRepo(
  repoRoot: string,
  path: string,
  options?: Partial<RenderOptions>,
): Promise<RenderedRepo> {
  const { waves, problems } = await inspectRepo(repoRoot, path, options);
  if (problems.some((p) => p.severity === 'error')) throw new RenderError(problems);
  return { waves, problems };
}

/** A wave folder with the step files found in it, before reading them. */
interface WaveFolder {
  wave: Wave;
  real: string;
  files: Map<number, Entry[]>;
}

async function findWaves(walker: RepoWalker, baseReal: string, base: string): Promise<WaveFolder[]> {
  const folders: WaveFolder[] = [];
  for (const entry of await walker.list(baseReal, base)) {
    if (entry.stats.isDirectory()) {
      if (entry.name.startsWith('.')) continue; // .git, .github: not content
      const match = WAVE_FOLDER.exec(entry.name);
      const number = match ? numberOf(match[1]!) : undefined;
      if (number === undefined) {
        walker.warning(entry.display, 'folder does not match <number>-<name>; skipped');
        continue;
      }
      const wave: Wave = { number, name: entry.name, dir: entry.display, steps: [] };
      folders.push({ wave, real: entry.real, files: await findSteps(walker, entry) });
    } else if (entry.stats.isFile() && YAML_FILE.test(entry.name)) {
      walker.warning(entry.display, 'file is not in a wave folder (<number>-<name>); skipped');
    }
  }

  folders.sort((a, b) => a.wave.number - b.wave.number || compareStrings(a.wave.name, b.wave.name));
  for (let i = 1; i < folders.length; i++) {
    const previous = folders[i - 1]!.wave;
    const current = folders[i]!.wave;
    if (previous.number === current.number) {
      walker.error(
        current.dir,
        `wave number ${current.number} is used by both ${previous.dir} and ${current.dir}; ` +
          'wave numbers must be unique',
      );
    }
  }
  return folders;
}

async function findSteps(walker: RepoWalker, folder: Entry): Promise<Map<number, Entry[]>> {
  const steps = new Map<number, Entry[]>();
  for (const entry of await walker.list(folder.real, folder.display)) {
    if (entry.stats.isDirectory()) {
      if (entry.name.startsWith('.')) continue;
      const message = 'folder inside a wave does not match <number>-<name>; skipped (waves do not nest)';
      walker.warning(entry.display, message);
      continue;
    }
    if (!entry.stats.isFile()) continue;
    const match = STEP_FILE.exec(entry.name);
    const number = match ? numberOf(match[1]!) : undefined;
    if (number === undefined) {
      if (YAML_FILE.test(entry.name)) {
        walker.warning(entry.display, 'file does not match <number>-<name>.yaml; skipped');
      }
      continue;
    }
    const files = steps.get(number) ?? [];
    files.push(entry); // already in name order
    steps.set(number, files);
  }
  return steps;
}

/** Reads and parses every step file, in wave and step order, within the size limits. */
async function readWaves(walker: RepoWalker, folders: WaveFolder[], opts: RenderOptions): Promise<void> {
  let total = 0;
  let overTotal = false;
  for (const folder of folders) {
    const numbers = [...folder.files.keys()].sort((a, b) => a - b);
    for (const number of numbers) {
      const entries = folder.files.get(number)!;
      const step: Step = { number, files: entries.map((e) => e.display), objects: [] };
      folder.wave.steps.push(step);
      for (const entry of entries) {
        if (overTotal) continue;
        const size = entry.stats.size;
        if (size > opts.maxFileBytes) {
          const message = `file is ${size} bytes, over the limit of ${opts.maxFileBytes} bytes; refused`;
          walker.error(entry.display, message);
          continue;
        }
        total += size;
        if (total > opts.maxTotalBytes) {
          overTotal = true;
          const message =
            `YAML files total more than the limit of ${opts.maxTotalBytes} bytes; ` +
            'refused (this file and later ones not read)';
          walker.error(entry.display, message);
          continue;
        }
        const text = await readFile(entry.real, 'utf8');
        const parsed = parseManifests(text, entry.display, opts);
        walker.problems.push(...parsed.problems);
        for (const doc of parsed.documents) {
          step.objects.push({
            object: doc.object,
            wave: folder.wave.number,
            waveName: folder.wave.name,
            step: number,
            source: { file: entry.display, line: doc.line, col: doc.col },
          });
        }
      }
    }
  }
}

/** The same object twice would be applied twice with different content: an error. */
function findDuplicates(walker: RepoWalker, folders: WaveFolder[], opts: RenderOptions): void {
  const seen = new Map<string, DesiredObject>();
  for (const folder of folders) {
    for (const step of folder.wave.steps) {
      for (const desired of step.objects) {
        const { apiVersion, kind, metadata } = desired.object;
        const clusterScoped = isClusterScopedKind(apiVersion, kind) === true;
        const namespace = clusterScoped ? '' : (metadata.namespace ?? opts.defaultNamespace ?? '');
        const key = [groupOf(apiVersion), kind, namespace, metadata.name].join('\u0000');
        const first = seen.get(key);
        if (!first) {
          seen.set(key, desired);
          continue;
        }
        const { file, line, col } = desired.source;
        const at = `${first.source.file}:${first.source.line}:${first.source.col}`;
        const message = `duplicate object: ${describeObject(desired.object)} is also defined at ${at}`;
        walker.error(file, message, line, col);
      }
    }
  }
}

/** Whether a path relative to the root points outside it. */
function escapes(relative: string): boolean {
  return relative === '..' || relative.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(relative);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Code-unit order: the same on every machine, whatever its locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
