/**
 * DORIS as it ships: the esbuild bundle that `npm run build` makes (scripts/bundle.ts,
 * docs/adr/0016-one-bundle.md) run by plain node, not TypeScript through tsx, whose loader
 * costs start-up time and some 35 MiB of RSS that the product does not pay. The benchmark
 * bundles each entry it runs (the CLI, and its own child processes, which import DORIS's
 * modules the same way) into a temporary folder laid out like the package (dist/, bin/,
 * package.json, node_modules), without touching the work tree; if that fails it falls back
 * to tsx and says so.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle } from '../scripts/bundle.js';
import { repoRoot } from '../test/env/paths.js';

export interface Runtime {
  /** `bundled` (as shipped, plain node) or `tsx`. */
  kind: 'bundled' | 'tsx';
  /** node arguments that run a repository module, e.g. `bench/sync-child.ts`. */
  argsFor(module: string): string[];
  dispose(): void;
}

const tsxRuntime: Runtime = {
  kind: 'tsx',
  argsFor: (module) => ['--import', 'tsx', join(repoRoot, module)],
  dispose: () => undefined,
};

/** The entry points the benchmarks start as processes. */
const entries = ['src/cli/main.ts', 'bench/sync-child.ts', 'bench/scale-controller.ts', 'bench/hub-agents.ts'];
const bundleName = (module: string) => `${module.replace(/\.ts$/, '').replace(/[/\\]/g, '-')}.mjs`;

export async function shippedRuntime(log: (line: string) => void): Promise<Runtime> {
  const dir = mkdtempSync(join(tmpdir(), 'doris-bench-build-'));
  const started = performance.now();
  try {
    for (const entry of entries) await bundle(entry, join(dir, 'dist', bundleName(entry)));
  } catch (error) {
    log(
      `could not bundle with esbuild (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); running DORIS through tsx instead (RSS includes tsx's loader)`,
    );
    rmSync(dir, { recursive: true, force: true });
    return tsxRuntime;
  }
  // What the bundle finds around itself in the package: its version, the external
  // client-node, and the GIT_SSH wrapper.
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(repoRoot, 'bin', 'doris-git-ssh.js'), join(dir, 'bin', 'doris-git-ssh.js'));
  log(`bundled DORIS with esbuild in ${((performance.now() - started) / 1000).toFixed(1)} s (${dir})`);
  return {
    kind: 'bundled',
    argsFor: (module) => {
      if (!entries.includes(module)) throw new Error(`bench/build.ts: ${module} is not bundled; add it to its entries`);
      return [join(dir, 'dist', bundleName(module))];
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
