/** The doris command line without a cluster: validate's output and exit codes, usage errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const doris = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  });

describe('doris validate', () => {
  it('prints file:line:col problems of a broken repository and exits 1', () => {
    const result = doris('validate', 'testdata/render/broken/deploy');
    assert.equal(result.status, 1, result.stderr);
    // The same problems, at the same places, as the render's own fixture says; the paths are
    // the ones the user typed.
    const location = (line: string) => /^(.*?): (error|warning): /.exec(line)?.slice(1, 3).join(' ');
    const expected = readFileSync(new URL('../../../testdata/render/broken/expected.txt', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((line) => location(line.replace(/^deploy/, 'testdata/render/broken/deploy')));
    assert.deepEqual(result.stdout.trim().split('\n').map(location), expected);
    assert.match(result.stderr, /\d+ errors/);
  });

  it('exits 0 on a valid repository and says what it found', () => {
    const result = doris('validate', 'testdata/render/layout/deploy');
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /objects in \d+ waves; 0 errors/);
  });
});

describe('usage errors', () => {
  it('exits 2 for an unknown option or a missing Pipeline source', () => {
    assert.equal(doris('sync', '--no-such-flag').status, 2);
    assert.equal(doris('--output', 'xml', 'validate', '.').status, 2);
    assert.equal(doris('completion', 'tcsh').status, 2);
    assert.equal(doris('reconcile').status, 2);
  });
});

describe('output formats', () => {
  it('prints the same result as JSON and as YAML', () => {
    const json = doris('-o', 'json', 'validate', 'testdata/render/layout/deploy');
    const yaml = doris('-o', 'yaml', 'validate', 'testdata/render/layout/deploy');
    assert.equal(json.status, 0, json.stderr);
    assert.equal(yaml.status, 0, yaml.stderr);
    assert.deepEqual(parse(yaml.stdout), JSON.parse(json.stdout));
    assert.equal(JSON.parse(json.stdout).objects, 11);
  });

  it('doris version: text, json and yaml agree with package.json', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.match(doris('version').stdout, new RegExp(`^doris ${version.replaceAll('.', '\\.')} \\(node v\\d+`));
    assert.equal(JSON.parse(doris('version', '-o', 'json').stdout).version, version);
    assert.equal(parse(doris('version', '-o', 'yaml').stdout).version, version);
  });
});

describe('exit codes without a cluster', () => {
  it('4 when the kubeconfig is missing or the API server is not there, with the reason on stderr and nothing on stdout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doris-cli-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      // Port 1 on loopback: nothing listens there, the connection is refused at once.
      writeFileSync(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: c',
          '  cluster:',
          '    server: https://127.0.0.1:1',
          'contexts:',
          '- name: x',
          '  context: {cluster: c, user: u}',
          'users:',
          '- name: u',
          '  user: {token: t}',
          'current-context: x',
        ].join('\n'),
      );
      for (const args of [['status'], ['status', 'main'], ['history', 'main'], ['suspend', 'main'], ['reconcile', 'main'], ['check']]) {
        const refused = doris('--kubeconfig', kubeconfig, ...args);
        assert.equal(refused.status, 4, `${args.join(' ')}: ${refused.stderr}`);
        assert.match(refused.stderr, /cannot reach the cluster \(ECONNREFUSED\)/);
        assert.equal(refused.stdout, '');
      }
      const missing = doris('--kubeconfig', join(dir, 'nothing-here'), 'status');
      assert.equal(missing.status, 4);
      assert.match(missing.stderr, /cannot load the kubeconfig/);
      const context = doris('--kubeconfig', kubeconfig, '--context', 'elsewhere', 'status');
      assert.equal(context.status, 4);
      assert.match(context.stderr, /context elsewhere not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reader that stops early is not an error: no EPIPE stack trace', () => {
    // Far more output than a pipe buffers (64 KiB), read by one that closes after one byte.
    const dir = mkdtempSync(join(tmpdir(), 'doris-epipe-'));
    try {
      mkdirSync(join(dir, '1-wave'));
      for (let i = 0; i < 2000; i++) writeFileSync(join(dir, '1-wave', `not-a-step-${i}-${'x'.repeat(40)}.yaml`), '');
      const command = `${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts validate ${JSON.stringify(dir)}`;
      const full = spawnSync('bash', ['-c', `${command} | wc -c`], { cwd: root, encoding: 'utf8' });
      assert.ok(Number(full.stdout.trim()) > 256 * 1024, `only ${full.stdout.trim()} bytes: the pipe would never fill`);
      const result = spawnSync('bash', ['-c', `set -o pipefail; ${command} | head -c 1 >/dev/null`], { cwd: root, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /EPIPE|Error|at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
