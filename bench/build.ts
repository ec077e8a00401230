/**
 * DORIS as it ships: compiled JavaScript run by plain node (bin/doris.js runs dist/), not
 * TypeScript through tsx, whose loader costs start-up time and some 35 MiB of RSS that the
 * product does not pay. The benchmark compiles the repository with tsc into a temporary
 * folder (what `npm run build` does, without touching the work tree) and runs the DORIS
 * processes from there; if that fails it falls back to tsx and says so.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/env/paths.js';

export interface Runtime {
  /** `compiled` (tsc output, plain node) or `tsx`. */
  kind: 'compiled' | 'tsx';
  /** node arguments that run a repository module, e.g. `bench/sync-child.ts`. */
  argsFor(module: string): string[];
  dispose(): void;
}

const tsxRuntime: Runtime = {
  kind: 'tsx',
  argsFor: (module) => ['--import', 'tsx', join(repoRoot, module)],
  dispose: () => undefined,
};

export async function compiledRuntime(log: (line: string) => void): Promise<Runtime> {
  const outDir = mkdtempSync(join(tmpdir(), 'doris-bench-build-'));
  const started = performance.now();
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await new Promise<{ code: number; output: string }>((resolve) =>
    execFile(
      process.execPath,
      [tsc, '-p', join(repoRoot, 'tsconfig.json'), '--outDir', outDir, '--sourceMap', 'false'],
      { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }),
    ),
  );
  const needed = ['bench/sync-child.js', 'src/cli/main.js'];
  if (!needed.every((f) => existsSync(join(outDir, f)))) {
    log(
      `could not compile with tsc (${result.output.trim().split('\n').slice(0, 5).join(' | ')}); running DORIS through tsx instead (RSS includes tsx's loader)`,
    );
    rmSync(outDir, { recursive: true, force: true });
    return tsxRuntime;
  }
  // tsc reports type errors but still emits; other sessions' work in progress may have some.
  if (result.code !== 0) log(`tsc reported errors (emitted anyway): ${result.output.trim().split('\n').slice(0, 3).join(' | ')}`);
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  log(`compiled DORIS with tsc in ${((performance.now() - started) / 1000).toFixed(1)} s (${outDir})`);
  return {
    kind: 'compiled',
    argsFor: (module) => [join(outDir, module.replace(/\.ts$/, '.js'))],
    dispose: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
