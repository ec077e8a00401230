/**
 * Fills npm's cache with what an offline `npm install -g` of DORIS's packed tarball needs
 * (test/e2e/cli_pack_test.ts). `npm ci` caches the tarballs of the lockfile only; an install
 * of the packed tarball has no lockfile, so npm resolves its dependencies from the registry's
 * metadata, which a fresh machine has never fetched, and may pick newer versions than the
 * lockfile's. Installing those dependencies once, allowed to reach the npm registry (as
 * `npm test`'s other setup steps do), caches the same metadata and tarballs, so that the test
 * itself talks to nothing but loopback.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

const exec = promisify(execFile);

/** Installs package.json's dependencies into a throw-away prefix, preferring the cache. */
export async function warmNpmCacheForPack(): Promise<void> {
  const { dependencies = {} } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const specs = Object.entries(dependencies).map(([name, range]) => `${name}@${range}`);
  if (specs.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'doris-npm-warm-'));
  try {
    const args = ['install', '--global', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', dir, ...specs];
    await exec('npm', args, { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
