/**
 * The `doris` command as users get it: in a clone right after `npm ci` (`npx doris`, which runs
 * the TypeScript sources), and installed from the packed tarball (`npm pack`, then
 * `npm install -g` into a fresh prefix, which runs dist/doris.mjs, the bundle `prepack` built). The
 * install is offline, and tests talk to nothing but loopback: `npm test` filled npm's cache
 * for it first (test/env/npm-cache.ts; `npm ci` alone leaves too little there).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../env/paths.js';

const exec = promisify(execFile);
const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'doris-pack-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const npm = (args: string[], cwd: string) =>
  exec('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 64 * 1024 * 1024 });

describe('installing doris', () => {
  it('works in the clone: npx doris runs the sources', async () => {
    const help = await exec('npx', ['--no-install', 'doris', '--help'], { cwd: repoRoot });
    assert.match(help.stdout, /Usage: doris \[options\] \[command\]/);
    const shown = await exec('npx', ['--no-install', 'doris', 'version', '-o', 'json'], { cwd: repoRoot });
    assert.equal(JSON.parse(shown.stdout).version, version);
  });

  it('npm pack bundles dist/doris.mjs, and npm install -g of the tarball gives a working doris', async () => {
    const packed = await npm(['pack', '--json', '--pack-destination', dir], repoRoot);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    assert.ok(files.includes('bin/doris.js'));
    assert.ok(files.includes('dist/doris.mjs'), 'the bundled CLI is in the tarball');
    assert.deepEqual(
      files.filter((f) => f.startsWith('dist/')),
      ['dist/doris.mjs'],
      'one bundle, no per-module output (docs/adr/0016-one-bundle.md)',
    );
    assert.ok(files.includes('bin/doris-git-ssh.js'), 'the GIT_SSH wrapper the bundle finds one level up from dist/');
    assert.ok(files.includes('docs/cli.md'), 'the user documentation is in the tarball');
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources and tests stay out');

    const prefix = join(dir, 'prefix');
    await npm(['install', '--global', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, join(dir, info!.filename)], dir);
    const bin = join(prefix, 'bin', 'doris');
    assert.ok(readdirSync(join(prefix, 'bin')).includes('doris'));
    const help = await exec(bin, ['--help'], { cwd: dir });
    assert.match(help.stdout, /reconcile \[options\] <name>/);
    const shown = await exec(bin, ['version'], { cwd: dir });
    assert.match(shown.stdout, new RegExp(`^doris ${version.replaceAll('.', '\\.')} `));
    const valid = await exec(bin, ['validate', join(repoRoot, 'testdata', 'render', 'layout', 'deploy')], { cwd: dir });
    assert.match(valid.stderr, /11 objects in 3 waves; 0 errors/);
  });
});
