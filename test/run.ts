/**
 * `npm test`: the one test command. Installs what is missing (Debian packages when root,
 * the Go-built control plane into the cache, npm's cache for the packed install), brings the
 * real test environment up, runs every unit and end-to-end test in one node test-runner
 * invocation (one summary), and takes the environment down again even when tests fail —
 * unless it was already up before, in which case it is left running for the next run.
 *
 *   npm test                  the type check, the linter, then every test
 *   npm test -- --unit        the type check, the linter, then unit tests only (no environment)
 *   npm test -- FILE...       only these test files (environment brought up if any is e2e)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { down, up } from './env/lifecycle.js';
import { envFile, repoRoot, stateFile } from './env/paths.js';
import { warmNpmCacheForPack } from './env/npm-cache.js';
import { isAlive } from './env/proc.js';

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('_test.ts')) found.push(path);
  }
  return found.sort();
}

/** Runs a tool of node_modules/.bin; resolves to its exit code. */
function runTool(name: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(join(repoRoot, 'node_modules', '.bin', name), args, { cwd: repoRoot, stdio: 'inherit' });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    child.on('error', () => resolve(1));
  });
}

/** tsx runs TypeScript without checking it: the type check and the linter run first. */
async function staticChecks(): Promise<boolean> {
  const started = Date.now();
  if ((await runTool('tsc', ['-p', 'tsconfig.json', '--noEmit'])) !== 0) {
    console.error('test: the type check failed (tsc -p tsconfig.json --noEmit)');
    return false;
  }
  if ((await runTool('biome', ['check', '--error-on-warnings'])) !== 0) {
    console.error('test: the linter or the formatter found something (npx biome check; npx biome check --write fixes formatting)');
    return false;
  }
  console.error(`test: type check and lint passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

function alreadyUp(): boolean {
  if (!existsSync(stateFile) || !existsSync(envFile)) return false;
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { daemons: Array<{ pid: number }> };
    return state.daemons.every((d) => isAlive(d.pid));
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unitOnly = args.includes('--unit');
  const explicit = args.filter((a) => !a.startsWith('--'));
  const unit = [...findTests(join(repoRoot, 'src')), ...findTests(join(repoRoot, 'test', 'unit'))];
  const e2e = findTests(join(repoRoot, 'test', 'e2e'));
  const files = explicit.length > 0 ? explicit.map((f) => join(process.cwd(), f)) : unitOnly ? unit : [...unit, ...e2e];
  const needsEnv = files.some((f) => relative(repoRoot, f).startsWith(join('test', 'e2e')));

  if (explicit.length === 0 && !(await staticChecks())) return 1;
  const wasUp = needsEnv && alreadyUp();
  let startedHere = false;
  const cleanup = async () => {
    if (startedHere) await down();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`test: ${signal}: stopping the environment`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (files.some((f) => f.endsWith('cli_pack_test.ts'))) {
      const started = Date.now();
      await warmNpmCacheForPack().then(
        () => console.error(`test: npm's cache holds what the packed install needs (${((Date.now() - started) / 1000).toFixed(1)} s)`),
        (error: unknown) => console.error(`test: could not fill npm's cache for the packed install; cli_pack_test will fail: ${String(error)}`),
      );
    }
    if (needsEnv) {
      startedHere = !wasUp;
      const started = Date.now();
      await up();
      console.error(`test: environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    // One file at a time, in name order: end-to-end files share one cluster, and the last one
    // checks the output of all the others.
    const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files];
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, nodeArgs, {
        cwd: repoRoot,
        stdio: 'inherit',
        env: { ...process.env, DORIS_TESTENV_FILE: envFile },
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    return code;
  } finally {
    if (wasUp) console.error('test: the environment was already up before the tests; leaving it up');
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`test: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
