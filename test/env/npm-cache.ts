/**
 * Fills npm's cache with what an offline `npm install -g` of DORIS's packed tarball needs
 * (test/e2e/cli_pack_test.ts). `npm ci` caches the tarballs of the lockfile only; an install
 * of the packed tarball has no lockfile, so npm resolves its dependencies from the registry's
 * metadata, which a fresh machine has never fetched, and may pick newer versions than the
 * lockfile's. This runs that install once, allowed to reach the npm registry (as `npm test`'s
 * other setup steps do), so that the test itself talks to nothing but loopback.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

const exec = promisify(execFile);
const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };

/** Packs the repository and installs the tarball into a throw-away prefix, preferring the cache. */
export async function warmNpmCacheForPack(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'doris-npm-warm-'));
  try {
    await exec('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: repoRoot, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
    const args = ['install', '--global', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', join(dir, 'prefix'), join(dir, tarball)];
    await exec('npm', args, { cwd: dir, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
