/**
 * The repository layout is the contract with users (README, docs/concepts.md):
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
 * repository root, and sizes and counts are bounded (`RenderOptions`). Every file is read
 * before deciding, so one render reports every problem at once; any error makes the whole
 * render fail (`RenderError`), so a half-broken commit is never half-applied.
 *
 * This is the one place that decides what a commit holds: a sync renders here and
 * `doris validate` reports from here, so both accept and refuse the same things. Skipped
 * things are reported with the reason they are skipped:
 *
 * - hidden files (`.10-x.yml`) are skipped with a warning; hidden folders (`.git`, `.github`)
 *   are not content and are passed over silently;
 * - only `.yml` and `.yaml`, in lower case, are manifests (as with `kubectl apply -f DIR`,
 *   which also compares extensions exactly): `.YML` and `.json` files are skipped with a
 *   warning saying so;
 * - git submodules are not fetched (a sync sees an empty folder): a folder listed in
 *   `.gitmodules`, or holding a `.git` of its own, is skipped with a warning;
 * - a wave or step number too large to order exactly (over 2^53) is an error, not a skip.
 *
 * A wave folder holding a `kustomization.yaml` is built with kustomize (its files are
 * kustomize's inputs, not steps), and so is a step folder `<number>-<name>/` inside a wave
 * (`kustomize.ts`); their objects are located at the folder, with the line and column in
 * `kustomize build`'s output. A step file carrying SOPS metadata is decrypted in memory
 * (`sops.ts`); without a key it is an error (a warning for `doris validate`).
 */
import type { Dirent, Stats } from 'node:fs';
import { lstat, opendir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { RenderError } from './errors.js';
import { buildKustomization, defaultKustomizeOptions, findKustomizationFile, type KustomizeOptions } from './kustomize.js';
import { decryptSops, encryptedValues, looksEncrypted, maskValues, unsupportedSops, type SopsOptions } from './sops.js';
import { describeObject, groupOf } from '../kube/objectid.js';
import { compareProblems, makeProblem } from './problems.js';
import { isClusterScopedKind } from '../kube/scope.js';
import type { DesiredObject, Problem, RenderedRepo, Step, Wave } from './types.js';
import { defaultYamlLimits, type ParseBudget, type ParsedFile, parseManifests, type YamlLimits, yamlLimitsKey } from './yaml.js';
import { FileCache } from './cache.js';
import { compareStrings } from '../compare.js';

/**
 * Limits of one render (one commit), on top of the per-file and per-document `YamlLimits`
 * (file size 1 MiB, 1,000 documents and 100,000 nodes per file, 3 MiB per document after
 * alias expansion, nesting 100, 100 alias expansions). Beyond a limit the render fails naming
 * the file (and line) where it was crossed; later files are not read. The totals keep what a
 * render holds in memory well under the controller's 256 Mi: the largest commit within them
 * (32 files of 1 MiB strings) peaked at 183 MiB RSS with `--max-old-space-size=128`.
 */
export interface RenderOptions extends YamlLimits {
  /** Largest total size of all YAML files of one render, in bytes. Default 32 MiB. */
  maxTotalBytes: number;
  /** Most YAML documents in one render, empty ones included. Default 20,000. */
  maxTotalDocuments: number;
  /** Most YAML nodes in one render (see `YamlLimits.maxNodes`). Default 500,000. */
  maxTotalNodes: number;
  /**
   * Largest total size of one render's documents after alias expansion, in bytes of JSON
   * (estimated as for `maxDocumentBytes`). Default 32 MiB.
   */
  maxTotalExpandedBytes: number;
  /**
   * Most entries (files, folders, links, of any name) in one folder that is listed: the
   * configured path and each wave folder. Default 10,000: a folder of 300,000 empty files
   * would otherwise cost its names and their stats before any limit on content applies.
   */
  maxFolderEntries: number;
  /** Most entries in all the folders one render lists. Default 20,000 (as many as documents). */
  maxTotalEntries: number;
  /**
   * Namespace that namespaced objects without `metadata.namespace` will land in (the
   * Pipeline's target namespace). Only used to detect duplicates here (metadata is left as
   * written). Default `default`.
   */
  defaultNamespace?: string;
  /** How kustomize folders are built (binary, the Pipeline's `spec.kustomize` policy, limits). */
  kustomize?: Partial<KustomizeOptions>;
  /** How SOPS-encrypted files are decrypted; without an age key they cannot be. */
  sops?: SopsOptions;
  /**
   * What an encrypted file without a key is: an `error` for a sync (nothing is applied),
   * a `warning` for offline validation. Default `error`.
   */
  encryptedWithoutKey?: 'error' | 'warning';
  /**
   * The parses of the Pipeline's last render (render/cache.ts): files whose bytes did not
   * change are not parsed again. Plain step files only: never kustomize output or decrypted
   * SOPS plaintext.
   */
  files?: FileCache;
}

export function defaultRenderOptions(): RenderOptions {
  return {
    ...defaultYamlLimits(),
    maxTotalBytes: 32 * 1024 * 1024,
    maxTotalDocuments: 20_000,
    maxTotalNodes: 500_000,
    maxTotalExpandedBytes: 32 * 1024 * 1024,
    maxFolderEntries: 10_000,
    maxTotalEntries: 20_000,
  };
}

// `s`: a name may hold a newline (it is printed escaped), and still be a wave or a step.
const WAVE_FOLDER = /^(\d+)-(.+)$/s;
const STEP_FILE = /^(\d+)-.*\.(ya?ml)$/s;
const YAML_FILE = /\.ya?ml$/i;
const LOWER_YAML_FILE = /\.ya?ml$/;
const JSON_FILE = /\.json$/i;

/** A wave or step number from a name; `undefined` when it is too large to be exact. */
function numberOf(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

function tooLarge(what: string, digits: string): string {
  return `${what} number ${digits} is too large to order exactly (over ${Number.MAX_SAFE_INTEGER}); refused`;
}

/** A directory entry after following symlinks. */
interface Entry {
  name: string;
  /** Path relative to the repository root, with forward slashes: what users see. */
  display: string;
  /** Real path on disk. */
  real: string;
  stats: Stats;
  /** A folder built with kustomize (it holds a kustomization file). */
  kustomize?: boolean;
}

/** Walks a repository without throwing: the waves found and every problem. */
class RepoWalker {
  readonly problems: Problem[] = [];
  /** Entries listed so far in this render (`RenderOptions.maxTotalEntries`). */
  private entriesListed = 0;

  /** `submodules`: paths (relative to the root) that `.gitmodules` declares. */
  constructor(
    readonly realRoot: string,
    private readonly submodules: ReadonlySet<string>,
    private readonly limits: Pick<RenderOptions, 'maxFolderEntries' | 'maxTotalEntries'>,
  ) {}

  /** Why a folder is a git submodule (or a repository of its own), if it is one. */
  async submoduleReason(entry: Entry): Promise<string | undefined> {
    if (this.submodules.has(entry.display)) return 'git submodule (listed in .gitmodules): DORIS does not fetch submodules; skipped';
    const marker = await lstat(nodePath.join(entry.real, '.git')).catch(() => undefined);
    return marker ? 'folder is a git repository of its own (it holds .git): DORIS does not fetch submodules; skipped' : undefined;
  }

  error(file: string, message: string, line?: number, col?: number): void {
    this.problems.push(makeProblem('error', file, message, line, col));
  }

  warning(file: string, message: string): void {
    this.problems.push(makeProblem('warning', file, message));
  }

  private inside(real: string): boolean {
    return !escapes(nodePath.relative(this.realRoot, real));
  }

  /**
   * Lists a folder, following symlinks that stay in the repository and refusing others. A
   * folder past the entry limits is refused (an error naming it) and yields nothing.
   */
  async list(dirReal: string, dirDisplay: string): Promise<Entry[]> {
    const dirents = await this.readFolder(dirReal, dirDisplay);
    dirents.sort((a, b) => compareStrings(a.name, b.name));
    const entries: Entry[] = [];
    for (const dirent of dirents) {
      const entry = await this.resolve(dirent, dirReal, dirDisplay);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** A folder's entries, read one at a time so that an endless folder is refused before it costs memory. */
  private async readFolder(dirReal: string, dirDisplay: string): Promise<Dirent[]> {
    const shown = dirDisplay || '.';
    const { maxFolderEntries, maxTotalEntries } = this.limits;
    if (this.entriesListed > maxTotalEntries) return []; // already refused, at the folder that crossed it
    const dirents: Dirent[] = [];
    // `for await` closes the folder when the loop is left early, too.
    for await (const dirent of await opendir(dirReal)) {
      if (dirents.length === maxFolderEntries) {
        this.error(shown, `folder holds more than ${maxFolderEntries} entries, the limit for one folder; refused (nothing in it is read)`);
        return [];
      }
      if (++this.entriesListed > maxTotalEntries) {
        this.error(
          shown,
          `the folders of this render hold more than ${maxTotalEntries} entries in all, the limit for one render; refused (this folder and later ones not read)`,
        );
        return [];
      }
      dirents.push(dirent);
    }
    return dirents;
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
        this.error(display, `symlink to ${JSON.stringify(await readlink(path))} has no target; refused`);
      }
      return undefined;
    }
    if (!this.inside(real)) {
      this.error(display, `symlink to ${JSON.stringify(await readlink(path))} leaves the repository; refused`);
      return undefined;
    }
    return { name, display, real, stats: await stat(real) };
  }
}

/**
 * Reads the repository without throwing: the waves that could be read and every problem
 * (errors and warnings). `renderRepo` is the strict form; `validate` reports from this one.
 */
export async function inspectRepo(repoRoot: string, path: string, options?: Partial<RenderOptions>): Promise<{ waves: Wave[]; problems: Problem[] }> {
  const opts: RenderOptions = { ...defaultRenderOptions(), ...definedOnly(options ?? {}) };
  const shownPath = path.split(nodePath.sep).join('/') || '.';

  let realRoot: string;
  try {
    realRoot = await realpath(repoRoot);
  } catch {
    return { waves: [], problems: [makeProblem('error', '.', 'repository root does not exist')] };
  }
  const walker = new RepoWalker(realRoot, await readSubmodulePaths(realRoot), opts);

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
  try {
    await readWaves(walker, waves, opts);
  } finally {
    opts.files?.endRender();
  }
  findDuplicates(walker, waves, opts);
  warnStrayNamespaces(walker, waves);

  walker.problems.sort(compareProblems);
  return { waves: waves.map((w) => w.wave), problems: walker.problems };
}

/**
 * Renders the repository folder `path` (relative to `repoRoot`) into its waves and steps.
 * Throws `RenderError` (code `BuildFailed`) listing every problem if any of them is an
 * error; otherwise the result carries the warnings.
 */
export async function renderRepo(repoRoot: string, path: string, options?: Partial<RenderOptions>): Promise<RenderedRepo> {
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
      if (!match) {
        walker.warning(entry.display, 'folder does not match <number>-<name>; skipped');
        continue;
      }
      const submodule = await walker.submoduleReason(entry);
      if (submodule) {
        walker.warning(entry.display, submodule);
        continue;
      }
      const number = numberOf(match[1]!);
      if (number === undefined) {
        walker.error(entry.display, tooLarge('wave', match[1]!));
        continue;
      }
      const wave: Wave = { number, name: entry.name, dir: entry.display, steps: [] };
      // A kustomize wave is one step: the folder's files are kustomize's inputs.
      const files = (await findKustomizationFile(entry.real)) ? new Map([[0, [{ ...entry, kustomize: true }]]]) : await findSteps(walker, entry);
      folders.push({ wave, real: entry.real, files });
    } else if (YAML_FILE.test(entry.name) && !entry.name.startsWith('.')) {
      // Hidden files here are tool settings (.gitlab-ci.yml, .yamllint.yml), not manifests.
      walker.warning(entry.display, 'file is not in a wave folder (<number>-<name>); skipped');
    }
  }

  folders.sort((a, b) => a.wave.number - b.wave.number || compareStrings(a.wave.name, b.wave.name));
  for (let i = 1; i < folders.length; i++) {
    const previous = folders[i - 1]!.wave;
    const current = folders[i]!.wave;
    if (previous.number === current.number) {
      walker.error(current.dir, `wave number ${current.number} is used by both ${previous.dir} and ${current.dir}; wave numbers must be unique`);
    }
  }
  return folders;
}

async function findSteps(walker: RepoWalker, folder: Entry): Promise<Map<number, Entry[]>> {
  const steps = new Map<number, Entry[]>();
  for (const entry of await walker.list(folder.real, folder.display)) {
    if (entry.stats.isDirectory()) {
      if (entry.name.startsWith('.')) continue;
      const stepFolder = /^(\d+)-/.exec(entry.name);
      if (stepFolder && !(await walker.submoduleReason(entry)) && (await findKustomizationFile(entry.real))) {
        const number = numberOf(stepFolder[1]!);
        if (number === undefined) {
          walker.error(entry.display, tooLarge('step', stepFolder[1]!));
          continue;
        }
        steps.set(number, [...(steps.get(number) ?? []), { ...entry, kustomize: true }]);
        continue;
      }
      const submodule = await walker.submoduleReason(entry);
      const message = submodule ?? 'folder inside a wave is not read; skipped (waves do not nest)';
      walker.warning(entry.display, message);
      continue;
    }
    const skipped = skipReason(entry);
    if (skipped === null) continue;
    if (skipped) {
      walker.warning(entry.display, skipped);
      continue;
    }
    const match = STEP_FILE.exec(entry.name)!;
    const number = numberOf(match[1]!);
    if (number === undefined) {
      walker.error(entry.display, tooLarge('step', match[1]!));
      continue;
    }
    const files = steps.get(number) ?? [];
    files.push(entry); // already in name order
    steps.set(number, files);
  }
  return steps;
}

/** Whether a file name looks like a manifest someone meant DORIS to read. */
function isManifestLike(name: string): boolean {
  return YAML_FILE.test(name) || JSON_FILE.test(name);
}

/**
 * Why a file in a wave folder is not a step file: a warning to give, `null` for files that
 * are plainly not manifests (README.md), `undefined` for a step file.
 */
function skipReason(entry: Entry): string | null | undefined {
  const { name } = entry;
  if (!isManifestLike(name)) return null;
  if (name.startsWith('.')) return 'hidden file; skipped (names starting with "." are not read)';
  if (JSON_FILE.test(name)) return 'JSON file; skipped (DORIS reads .yml and .yaml files: rename it, JSON is valid YAML)';
  if (!LOWER_YAML_FILE.test(name)) return 'extension is not lower-case .yml or .yaml; skipped (rename it to read it)';
  if (!STEP_FILE.test(name)) return 'file does not match <number>-<name>.yaml; skipped';
  if (!entry.stats.isFile()) return 'not a regular file; skipped';
  return undefined;
}

/** Reads and parses every step file, in wave and step order, within the size limits. */
async function readWaves(walker: RepoWalker, folders: WaveFolder[], opts: RenderOptions): Promise<void> {
  let total = 0;
  let overTotal = false;
  const budget = { documents: opts.maxTotalDocuments, nodes: opts.maxTotalNodes, expandedBytes: opts.maxTotalExpandedBytes };
  const limitsKey = opts.files ? yamlLimitsKey(opts) : '';
  for (const folder of folders) {
    const numbers = [...folder.files.keys()].sort((a, b) => a - b);
    for (const number of numbers) {
      const entries = folder.files.get(number)!;
      const step: Step = { number, files: entries.map((e) => e.display), objects: [] };
      folder.wave.steps.push(step);
      for (const entry of entries) {
        if (overTotal) continue;
        if (!entry.kustomize && entry.stats.size > opts.maxFileBytes) {
          const message = `file is ${entry.stats.size} bytes, over the limit of ${opts.maxFileBytes} bytes; refused`;
          walker.error(entry.display, message);
          continue;
        }
        const input = entry.kustomize ? await buildKustomizeStep(walker, entry, opts) : await readStepFile(walker, entry, opts);
        if (!input) continue;
        total += input.bytes.byteLength;
        if (total > opts.maxTotalBytes) {
          overTotal = true;
          const message = `YAML files total more than the limit of ${opts.maxTotalBytes} bytes; refused (this file and later ones not read)`;
          walker.error(entry.display, message);
          continue;
        }
        const parsed = parseStep(input, entry.display, budget, opts.files, limitsKey);
        walker.problems.push(
          ...(input.secrets.length === 0 ? parsed.problems : parsed.problems.map((p) => ({ ...p, message: maskValues(p.message, input.secrets) }))),
        );
        budget.documents -= parsed.documentCount;
        budget.nodes -= parsed.nodeCount;
        budget.expandedBytes -= parsed.expandedBytes;
        if (parsed.overBudget) overTotal = true;
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

/** A step's parse, from the file cache when its bytes were parsed before (same path, same limits). */
function parseStep(input: StepInput, file: string, budget: ParseBudget, files: FileCache | undefined, limitsKey: string): ParsedFile {
  const cacheable = files !== undefined && input.cacheable;
  const key = cacheable ? FileCache.key(file, input.bytes, limitsKey) : '';
  const hit = cacheable ? files.lookup(key, budget) : undefined;
  if (hit) return hit;
  const parsed = parseManifests(input.bytes, file, input.limits, budget);
  if (cacheable) files.store(key, parsed);
  return parsed;
}

/** What one step entry yields for parsing: its YAML, the limits to parse it with, values to mask. */
interface StepInput {
  bytes: Uint8Array;
  limits: YamlLimits;
  /** Plaintext of encrypted values, masked in every problem about the file. */
  secrets: string[];
  /** A plain file read from the commit (its parse may be kept by the file cache). */
  cacheable?: boolean;
}

/** A step file's bytes; a SOPS-encrypted one decrypted in memory (undefined: reported, skipped). */
async function readStepFile(walker: RepoWalker, entry: Entry, opts: RenderOptions): Promise<StepInput | undefined> {
  const bytes = await readFile(entry.real);
  // Most files hold no `sops:` at all: no second decoding for them.
  if (!bytes.includes('sops:')) return { bytes, limits: opts, secrets: [], cacheable: true };
  const text = bytes.toString('utf8');
  if (!looksEncrypted(text)) return { bytes, limits: opts, secrets: [], cacheable: true };
  const unsupported = unsupportedSops(text);
  if (unsupported) {
    walker.error(entry.display, unsupported);
    return undefined;
  }
  if (!opts.sops?.ageKey) {
    if (opts.encryptedWithoutKey === 'warning') {
      walker.warning(entry.display, 'SOPS-encrypted (age): not decrypted without a key, so its objects are not checked here');
    } else {
      walker.error(entry.display, 'SOPS-encrypted file and no age key to decrypt it (spec.decryption.secretRef, key age.agekey); nothing applied');
    }
    return undefined;
  }
  const decrypted = await decryptSops(bytes, opts.sops);
  if (!decrypted.ok) {
    walker.error(entry.display, `SOPS decryption failed: ${decrypted.message}`);
    return undefined;
  }
  return { bytes: decrypted.plaintext, limits: opts, secrets: encryptedValues(text, decrypted.plaintext.toString('utf8')) };
}

/** A kustomize folder's build output (undefined: the refusal or failure is reported against the folder). */
async function buildKustomizeStep(walker: RepoWalker, entry: Entry, opts: RenderOptions): Promise<StepInput | undefined> {
  const options = { ...defaultKustomizeOptions(), ...definedOnly(opts.kustomize ?? {}) };
  const built = await buildKustomization(walker.realRoot, entry.real, options);
  if (!built.ok) {
    walker.error(entry.display, built.message);
    return undefined;
  }
  if (/^sops:/m.test(built.output.toString('utf8'))) {
    walker.error(
      entry.display,
      'kustomize output holds SOPS-encrypted objects: decrypting inside kustomize folders is not supported; keep them in a plain step file',
    );
    return undefined;
  }
  // One build stands for many files: the commit-wide limits bound it, not the per-file ones.
  const limits = { ...opts, maxFileBytes: options.maxOutputBytes, maxDocuments: opts.maxTotalDocuments, maxNodes: opts.maxTotalNodes };
  return { bytes: built.output, limits, secrets: [] };
}

/**
 * The same object twice would be applied twice with different content: an error. An object
 * without a namespace is the same as one naming the namespace it will land in. A kind that is
 * not built in may be cluster-scoped: two copies of it are the same object if both or neither
 * name a namespace, and otherwise if the named one is the default.
 */
function findDuplicates(walker: RepoWalker, folders: WaveFolder[], opts: RenderOptions): void {
  const seen = new Map<string, DesiredObject>();
  const defaultNamespace = opts.defaultNamespace || 'default';
  for (const folder of folders) {
    for (const step of folder.wave.steps) {
      for (const desired of step.objects) {
        const { apiVersion, kind, metadata } = desired.object;
        const scope = isClusterScopedKind(apiVersion, kind);
        // Unknown kinds: a missing namespace is the default one, as for namespaced kinds;
        // were the kind cluster-scoped, both copies would be the same object all the more.
        const namespace = scope === true ? '' : metadata.namespace || defaultNamespace;
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

/** A stray namespace on a cluster-scoped kind is ignored when applying: say so. */
function warnStrayNamespaces(walker: RepoWalker, folders: WaveFolder[]): void {
  for (const folder of folders) {
    for (const step of folder.wave.steps) {
      for (const desired of step.objects) {
        const { apiVersion, kind, metadata } = desired.object;
        if (metadata.namespace && isClusterScopedKind(apiVersion, kind) === true) {
          const { file, line, col } = desired.source;
          const message = `${kind} ${metadata.name} is cluster-scoped: metadata.namespace "${metadata.namespace}" is ignored; it will be applied cluster-scoped`;
          walker.problems.push(makeProblem('warning', file, message, line, col));
        }
      }
    }
  }
}

/** Paths of the submodules `.gitmodules` declares (relative to the root), if any. */
async function readSubmodulePaths(realRoot: string): Promise<Set<string>> {
  const text = await readFile(nodePath.join(realRoot, '.gitmodules'), 'utf8').catch(() => '');
  const paths = new Set<string>();
  for (const match of text.matchAll(/^\s*path\s*=\s*(.+?)\s*$/gm)) {
    paths.add(match[1]!.replace(/^"(.*)"$/, '$1').replace(/\/+$/, ''));
  }
  return paths;
}

/** Whether a path relative to the root points outside it. */
function escapes(relative: string): boolean {
  return relative === '..' || relative.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(relative);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
