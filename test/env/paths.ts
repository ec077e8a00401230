/**
 * Where the test environment keeps things. Binaries are cached by version outside the repo
 * (so a clean clone reuses them); run state (PIDs, logs, data, the env file) lives in the
 * repo's git-ignored `.testenv/`.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Run state of the environment: one per checkout. */
export const stateDir = process.env.DORIS_TESTENV_DIR ?? join(repoRoot, '.testenv');

/** Built binaries, by version: shared by every checkout on the machine. */
export const cacheRoot = process.env.DORIS_TESTENV_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'doris-testenv');

export const clusterModulesDir = join(repoRoot, 'test', 'cluster');

export const envFile = join(stateDir, 'env');
export const stateFile = join(stateDir, 'state.json');
export const logDir = join(stateDir, 'logs');
