import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DorisError } from '../../../src/errors.js';
import { RenderError } from '../../../src/render/errors.js';
import { defaultRenderOptions, renderRepo } from '../../../src/render/layout.js';
import type { Problem, RenderedRepo } from '../../../src/render/types.js';

const testdata = fileURLToPath(new URL('../../../testdata/render/', import.meta.url));
const fixture = (name: string): string => join(testdata, name);

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A throw-away directory holding `files` (path → content); returns its path. */
async function tempRepo(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'doris-render-'));
  temps.push(dir);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const configMap = (name: string, namespace?: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}`;

/** Renders and expects a RenderError; returns its problems. */
async function renderErrors(root: string, path: string, options?: Parameters<typeof renderRepo>[2]): Promise<Problem[]> {
  let caught: unknown;
  try {
    await renderRepo(root, path, options);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RenderError, `expected a RenderError, got ${String(caught)}`);
  return caught.problems;
}

const errorsOf = (problems: Problem[]): [string, string][] => problems.filter((p) => p.severity === 'error').map((p) => [p.file, p.message]);

function names(repo: RenderedRepo): string[] {
  return repo.waves.flatMap((w) => w.steps.flatMap((s) => s.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)));
}

describe('renderRepo', () => {
  it('runs wave 2 before wave 10 and step 9 before step 10', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    assert.deepEqual(
      repo.waves.map((w) => [w.number, w.name, w.dir]),
      [
        [1, '1-doris', 'deploy/1-doris'],
        [2, '2-influxdb', 'deploy/2-influxdb'],
        [10, '10-telegraf', 'deploy/10-telegraf'],
      ],
    );
    assert.deepEqual(
      repo.waves[1]!.steps.map((s) => s.number),
      [9, 10, 40, 170, 200, 300],
    );
    assert.deepEqual(
      repo.waves[0]!.steps.map((s) => s.number),
      [70, 170],
    );
  });

  it('groups files with the same number into one step, sorted by name', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    const telegraf = repo.waves[2]!;
    assert.deepEqual(
      telegraf.steps.map((s) => [s.number, s.files]),
      [
        [100, ['deploy/10-telegraf/100-telegrafrbac.yml']],
        [170, ['deploy/10-telegraf/170-telegraf-config.yml', 'deploy/10-telegraf/170-telegraf.yml']],
      ],
    );
    assert.deepEqual(
      telegraf.steps[1]!.objects.map((o) => o.object.kind),
      ['ConfigMap', 'DaemonSet'],
    );
  });

  it('reads every document of a multi-document file, with its source location', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    const rbac = repo.waves[2]!.steps[0]!.objects;
    assert.deepEqual(
      rbac.map((o) => [o.object.kind, o.object.metadata.name, o.wave, o.waveName, o.step, o.source]),
      [
        ['ClusterRole', 'telegraf', 10, '10-telegraf', 100, { file: 'deploy/10-telegraf/100-telegrafrbac.yml', line: 2, col: 1 }],
        ['ClusterRoleBinding', 'telegraf', 10, '10-telegraf', 100, { file: 'deploy/10-telegraf/100-telegrafrbac.yml', line: 12, col: 1 }],
        ['ServiceAccount', 'telegraf', 10, '10-telegraf', 100, { file: 'deploy/10-telegraf/100-telegrafrbac.yml', line: 26, col: 1 }],
      ],
    );
  });

  it('skips empty and comment-only files', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    const influx = repo.waves[1]!;
    const empty = influx.steps.find((s) => s.number === 9)!;
    const comments = influx.steps.find((s) => s.number === 300)!;
    assert.deepEqual(empty.files, ['deploy/2-influxdb/9-empty.yml']);
    assert.deepEqual(empty.objects, []);
    assert.deepEqual(comments.files, ['deploy/2-influxdb/300-comments.yaml']);
    assert.deepEqual(comments.objects, []);
  });

  it('parses manifests as YAML 1.1, as kubectl does', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    const deployment = repo.waves[1]!.steps.find((s) => s.number === 170)!.objects[0]!.object;
    const pod = (deployment['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
    const volumes = pod['volumes'] as { secret: { defaultMode: unknown } }[];
    const containers = pod['containers'] as { tty: unknown; stdin: unknown }[];
    assert.equal(volumes[0]!.secret.defaultMode, 420);
    assert.equal(containers[0]!.tty, true);
    assert.equal(containers[0]!.stdin, true);
  });

  it('leaves metadata as written, without defaulting namespaces', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    const clusterRole = repo.waves[2]!.steps[0]!.objects[0]!.object;
    assert.deepEqual(clusterRole.metadata, { name: 'telegraf' });
  });

  it('warns about and skips YAML files and folders that do not match the layout, ignoring other files', async () => {
    const repo = await renderRepo(fixture('layout'), 'deploy');
    assert.deepEqual(repo.problems, [
      {
        severity: 'warning',
        file: 'deploy/2-influxdb/extra',
        message: 'folder inside a wave is not read; skipped (waves do not nest)',
      },
      { severity: 'warning', file: 'deploy/2-influxdb/notes.yaml', message: 'file does not match <number>-<name>.yaml; skipped' },
      { severity: 'warning', file: 'deploy/misc', message: 'folder does not match <number>-<name>; skipped' },
      { severity: 'warning', file: 'deploy/stray.yaml', message: 'file is not in a wave folder (<number>-<name>); skipped' },
    ]);
    assert.deepEqual(names(repo), [
      'ServiceAccount/doris',
      'Deployment/doris',
      'Namespace/monitoring',
      'PersistentVolumeClaim/influxdb',
      'Deployment/influxdb',
      'Service/influxdb',
      'ClusterRole/telegraf',
      'ClusterRoleBinding/telegraf',
      'ServiceAccount/telegraf',
      'ConfigMap/telegraf',
      'DaemonSet/telegraf',
    ]);
  });

  it('treats a wrongly cased extension as a YAML file to warn about, not as a step', async () => {
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': configMap('a'), 'deploy/1-a/20-b.YAML': configMap('b') });
    const repo = await renderRepo(root, 'deploy');
    assert.deepEqual(names(repo), ['ConfigMap/a']);
    assert.deepEqual(
      repo.problems.map((p) => [p.severity, p.file]),
      [['warning', 'deploy/1-a/20-b.YAML']],
    );
  });

  it('renders the repository root itself when the path is "."', async () => {
    const root = await tempRepo({ '1-a/10-a.yml': configMap('a'), '.github/ci.yml': 'on: push\n' });
    const repo = await renderRepo(root, '.');
    assert.deepEqual(repo.waves[0]!.steps[0]!.files, ['1-a/10-a.yml']);
    assert.deepEqual(repo.problems, [], 'hidden folders such as .github are not content');
  });

  it('refuses two wave folders with the same number, naming both', async () => {
    const root = await tempRepo({ 'deploy/2-a/10-a.yml': configMap('a'), 'deploy/02-b/10-b.yml': configMap('b') });
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [
      ['deploy/2-a', 'wave number 2 is used by both deploy/02-b and deploy/2-a; wave numbers must be unique'],
    ]);
  });

  it('refuses the same object defined twice, naming both places', async () => {
    const root = await tempRepo({
      'deploy/1-a/10-a.yml': configMap('settings', 'apps'),
      'deploy/3-c/10-c.yml': `${configMap('other', 'apps')}---\n${configMap('settings', 'apps')}`,
      // Same name in another namespace, or another kind: not duplicates.
      'deploy/2-b/10-b.yml': `${configMap('settings', 'web')}---\napiVersion: v1\nkind: Secret\nmetadata: {name: settings, namespace: apps}\n`,
    });
    assert.deepEqual(await renderErrors(root, 'deploy'), [
      {
        severity: 'error',
        file: 'deploy/3-c/10-c.yml',
        line: 7,
        col: 1,
        message: 'duplicate object: ConfigMap apps/settings is also defined at deploy/1-a/10-a.yml:1:1',
      },
    ]);
  });

  it('treats a version change of the same group and kind as the same object', async () => {
    const hpa = (version: string): string => `apiVersion: autoscaling/${version}\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: apps}\n`;
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': hpa('v1'), 'deploy/1-a/20-b.yml': hpa('v2') });
    assert.deepEqual(
      errorsOf(await renderErrors(root, 'deploy')).map(([file]) => file),
      ['deploy/1-a/20-b.yml'],
    );
  });

  it('ignores a stray namespace on a cluster-scoped kind when looking for duplicates', async () => {
    const namespace = (extra: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n${extra}`;
    const root = await tempRepo({
      'deploy/1-a/10-a.yml': namespace(''),
      'deploy/1-a/20-b.yml': namespace('  namespace: default\n'),
    });
    assert.deepEqual(
      errorsOf(await renderErrors(root, 'deploy')).map(([file]) => file),
      ['deploy/1-a/20-b.yml'],
    );
  });

  it('uses the default namespace, when given, to find duplicates of objects without one', async () => {
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': configMap('c'), 'deploy/1-a/20-b.yml': configMap('c', 'edge') });
    const repo = await renderRepo(root, 'deploy');
    assert.equal(names(repo).length, 2, 'without a default namespace they differ');
    assert.equal(errorsOf(await renderErrors(root, 'deploy', { defaultNamespace: 'edge' })).length, 1);
  });

  it('refuses an alias bomb with a clear error', async () => {
    assert.deepEqual(errorsOf(await renderErrors(fixture('aliasbomb'), 'deploy')), [
      ['deploy/1-bomb/10-bomb.yml', 'document is over 3145728 bytes once its aliases are expanded; refused (the API server takes at most 3145728)'],
    ]);
  });

  it('refuses a file over the size limit, and later files once the total limit is reached', async () => {
    assert.equal(defaultRenderOptions().maxFileBytes, 1024 * 1024);
    assert.equal(defaultRenderOptions().maxTotalBytes, 32 * 1024 * 1024);
    const big = `${configMap('big')}data:\n  blob: "${'x'.repeat(1024 * 1024)}"\n`;
    const root = await tempRepo({ 'deploy/1-a/10-big.yml': big, 'deploy/1-a/20-ok.yml': configMap('ok') });
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [
      ['deploy/1-a/10-big.yml', `file is ${Buffer.byteLength(big)} bytes, over the limit of 1048576 bytes; refused`],
    ]);

    const small = await tempRepo({
      'deploy/1-a/10-a.yml': configMap('a'),
      'deploy/1-a/20-b.yml': configMap('b'),
      'deploy/2-b/10-c.yml': configMap('c'),
    });
    const limit = Buffer.byteLength(configMap('a')) + 10;
    assert.deepEqual(errorsOf(await renderErrors(small, 'deploy', { maxTotalBytes: limit })), [
      ['deploy/1-a/20-b.yml', `YAML files total more than the limit of ${limit} bytes; refused (this file and later ones not read)`],
    ]);
  });

  it('refuses a folder of more than 10,000 entries, naming it and the limit, without reading any of it', async () => {
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': configMap('a'), 'deploy/2-b/10-b.yml': configMap('b') });
    // Empty files: what costs is their number (names and stats), not their content.
    const readmes = Array.from({ length: 10_000 }, (_, i) => `README-${i}.md`);
    for (let i = 0; i < readmes.length; i += 1000) await Promise.all(readmes.slice(i, i + 1000).map((n) => writeFile(join(root, 'deploy/2-b', n), '')));
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [
      ['deploy/2-b', 'folder holds more than 10000 entries, the limit for one folder; refused (nothing in it is read)'],
    ]);
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy', { maxFolderEntries: 2 })), [
      ['deploy/2-b', 'folder holds more than 2 entries, the limit for one folder; refused (nothing in it is read)'],
    ]);
    assert.equal(defaultRenderOptions().maxFolderEntries, 10_000);
  });

  it('refuses a render whose folders hold more entries in all than the limit, naming the folder that crossed it', async () => {
    const root = await tempRepo({
      'deploy/1-a/10-a.yml': configMap('a'),
      'deploy/1-a/20-a.yml': configMap('a2'),
      'deploy/2-b/10-b.yml': configMap('b'),
      'deploy/2-b/20-b.yml': configMap('b2'),
      'deploy/3-c/10-c.yml': configMap('c'),
    });
    // deploy/ lists 3 entries, 1-a 2 more, and 2-b crosses 6.
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy', { maxTotalEntries: 6 })), [
      ['deploy/2-b', 'the folders of this render hold more than 6 entries in all, the limit for one render; refused (this folder and later ones not read)'],
    ]);
    assert.equal(names(await renderRepo(root, 'deploy', { maxTotalEntries: 8 })).length, 5);
    assert.equal(defaultRenderOptions().maxTotalEntries, 20_000);
  });

  it('reports a malformed file at its line and column and still reads the other files', async () => {
    const problems = await renderErrors(fixture('broken'), 'deploy');
    const malformed = problems.find((p) => p.file === 'deploy/1-base/30-config.yml');
    assert.deepEqual(malformed, {
      severity: 'error',
      file: 'deploy/1-base/30-config.yml',
      line: 8,
      col: 1,
      message: 'ConfigMap app/settings: All mapping items must start at the same column',
    });
    assert.ok(
      problems.some((p) => p.file === 'deploy/2-app/171-web-copy.yml'),
      'later files were read too',
    );
  });

  it('refuses an object without a kind', async () => {
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': 'apiVersion: v1\nmetadata: {name: a}\n' });
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [
      ['deploy/1-a/10-a.yml', 'object "a" has no kind; every object needs a string apiVersion, kind and metadata.name'],
    ]);
  });

  it('throws one BuildFailed error whose message lists every error as file:line:col', async () => {
    let caught: unknown;
    await renderRepo(fixture('broken'), 'deploy').catch((e: unknown) => (caught = e));
    assert.ok(caught instanceof DorisError);
    assert.equal(caught.code, 'BuildFailed');
    assert.equal(caught.name, 'RenderError');
    assert.equal(
      caught.message,
      [
        'deploy/1-base/30-config.yml:8:1: ConfigMap app/settings: All mapping items must start at the same column',
        'deploy/1-base/40-secrets.yml:7:1: object "second" has no kind; every object needs a string apiVersion, kind and metadata.name',
        'deploy/1-base/50-list.yml:1:1: document is a list, not a mapping; every document must be a Kubernetes object',
        'deploy/2-app: wave number 2 is used by both deploy/02-other and deploy/2-app; wave numbers must be unique',
        'deploy/2-app/171-web-copy.yml:1:1: duplicate object: Deployment app/web is also defined at deploy/2-app/170-web.yml:1:1',
      ].join('\n'),
    );
  });

  it('refuses a path that leaves the repository root', async () => {
    const root = fixture('layout');
    for (const path of ['..', '../broken/deploy', 'deploy/../../broken/deploy']) {
      assert.deepEqual(await renderErrors(root, path), [{ severity: 'error', file: path, message: 'path leaves the repository root; refused' }]);
    }
    const roundabout = await renderRepo(root, 'deploy/../deploy');
    assert.equal(roundabout.waves.length, 3, 'a path that goes up and comes back inside is fine');
    assert.deepEqual(errorsOf(await renderErrors(root, join(root, 'deploy'))), [
      [join(root, 'deploy'), 'path must be relative to the repository root; refused'],
    ]);
  });

  it('fails when the configured folder does not exist', async () => {
    assert.deepEqual(errorsOf(await renderErrors(fixture('layout'), 'manifests')), [['manifests', 'folder does not exist in the repository']]);
  });

  it('refuses symlinks that lead outside the repository', async () => {
    const outside = await tempRepo({ 'secret.yml': configMap('stolen'), '9-wave/10-x.yml': configMap('x') });
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': configMap('a') });
    await symlink(join(outside, 'secret.yml'), join(root, 'deploy/1-a/20-secret.yml'));
    await symlink(`../../../../${join(outside, '9-wave').replace(/^\//, '')}`, join(root, 'deploy/9-wave'));
    await symlink(outside, join(root, 'elsewhere'));

    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [
      ['deploy/1-a/20-secret.yml', `symlink to "${join(outside, 'secret.yml')}" leaves the repository; refused`],
      ['deploy/9-wave', `symlink to "../../../../${join(outside, '9-wave').replace(/^\//, '')}" leaves the repository; refused`],
    ]);
    assert.deepEqual(errorsOf(await renderErrors(root, 'elsewhere')), [['elsewhere', 'path leads outside the repository through a symlink; refused']]);
  });

  it('follows symlinks that stay inside the repository', async () => {
    const root = await tempRepo({ 'shared/config.yml': configMap('shared'), 'base/10-base.yml': configMap('base') });
    await mkdir(join(root, 'deploy/1-a'), { recursive: true });
    await symlink('../../shared/config.yml', join(root, 'deploy/1-a/10-config.yml'));
    await symlink('../base', join(root, 'deploy/2-base'));
    const repo = await renderRepo(root, 'deploy');
    assert.deepEqual(names(repo), ['ConfigMap/shared', 'ConfigMap/base']);
    assert.deepEqual(
      repo.waves.flatMap((w) => w.steps.flatMap((s) => s.files)),
      ['deploy/1-a/10-config.yml', 'deploy/2-base/10-base.yml'],
    );
  });

  it('refuses a step file whose symlink has no target', async () => {
    const root = await tempRepo({ 'deploy/1-a/10-a.yml': configMap('a') });
    await symlink('missing.yml', join(root, 'deploy/1-a/20-gone.yml'));
    assert.deepEqual(errorsOf(await renderErrors(root, 'deploy')), [['deploy/1-a/20-gone.yml', 'symlink to "missing.yml" has no target; refused']]);
  });
});
