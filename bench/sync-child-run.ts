/**
 * Runs bench/sync-child.ts (one cold sync and no-op resync) in its own process, with the same
 * V8 flags as the image runs DORIS with (Dockerfile, src/install/nodeflags.ts), so that its
 * RSS figures are DORIS's alone. Its result is the last `BENCH_RESULT ` line of its stdout.
 */
import { spawn } from 'node:child_process';
import { dorisNodeFlags } from '../src/install/nodeflags.js';
import { dorisEnv } from '../test/env/doris.js';
import { repoRoot } from '../test/env/paths.js';
import type { TestEnv } from '../test/env/testenv.js';
import type { Runtime } from './build.js';
import type { SyncChildConfig, SyncChildResult } from './sync-child.js';

/** `extraFlags`: more node flags (a heap limit, for one). */
export function runSyncChild(env: TestEnv, runtime: Runtime, config: SyncChildConfig, extraFlags: string[] = []): Promise<SyncChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', ...dorisNodeFlags, ...extraFlags, ...runtime.argsFor('bench/sync-child.ts'), JSON.stringify(config)],
      {
        cwd: repoRoot,
        env: dorisEnv(env),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return reject(new Error(`sync child exited ${code} without a result:\n${stdout.slice(-2000)}`));
      resolve(JSON.parse(line.slice('BENCH_RESULT '.length)) as SyncChildResult);
    });
  });
}
