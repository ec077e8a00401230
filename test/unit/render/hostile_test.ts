/**
 * Hostile and surprising repositories, one per row: the files (inline), and the problem a user
 * must see. Every row is rendered twice — as a sync renders a commit (`renderRepo`) and as
 * `doris validate DIR` does — and both must report exactly the same problems (one rule set).
 *
 * What needs the API server (dry-run refusals, ownership, pruning) is in the e2e tables.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RenderError } from '../../../src/render/errors.js';
import { renderRepo, type RenderOptions } from '../../../src/render/layout.js';
import type { Problem } from '../../../src/render/types.js';
import { formatProblems, validateFolder } from '../../../src/render/validate.js';

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Row {
  name: string;
  /** Files under `deploy/` (the Pipeline's path), unless the path starts with `/` (repository root). */
  files: Record<string, string | Buffer>;
  symlinks?: Record<string, string>;
  options?: Partial<RenderOptions>;
  /** Each string must be part of one printed problem line of this severity; [] means none. */
  errors?: string[];
  warnings?: string[];
}

const cm = (name: string, extra = ''): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}`;
const named = (kind: string, name: string, apiVersion = 'v1'): string =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${JSON.stringify(name)}\n`;
const data = (value: string): string => cm('c', `data:\n  v: ${value}\n`);

const MiB = 1024 * 1024;
const separators = '---\n'.repeat(MiB / 4);
const bigString = 'x'.repeat(600 * 1024);
const aliased90 = `${cm('bomb')}data:\n  a: &a "${bigString}"\n${Array.from({ length: 89 }, (_, i) => `  b${i}: *a\n`).join('')}`;

const rows: Row[] = [
  // Names reach URLs: the API server's rules, before any request (16.2).
  {
    name: 'a name of ".." is refused',
    files: { '1-a/10-x.yml': named('ConfigMap', '..') },
    errors: ['1-a/10-x.yml:4:9: error: ConfigMap ..: metadata.name ".." is not valid'],
  },
  { name: 'a name of "." is refused', files: { '1-a/10-x.yml': named('Secret', '.') }, errors: ['metadata.name "." is not valid'] },
  { name: 'a name with "/" is refused', files: { '1-a/10-x.yml': named('ConfigMap', 'a/b') }, errors: ['metadata.name "a/b" is not valid'] },
  { name: 'a name with "%" is refused', files: { '1-a/10-x.yml': named('ConfigMap', 'a%2Fb') }, errors: ['metadata.name "a%2Fb" is not valid'] },
  {
    name: 'an upper-case name is refused',
    files: { '1-a/10-x.yml': named('Deployment', 'Web', 'apps/v1') },
    errors: ['metadata.name "Web" is not valid: it must be a DNS-1123 subdomain'],
  },
  { name: 'a 254-character name is refused', files: { '1-a/10-x.yml': named('ConfigMap', 'a'.repeat(254)) }, errors: ['at most 253 characters'] },
  { name: 'a 253-character name is fine', files: { '1-a/10-x.yml': named('ConfigMap', `${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(61)) }, errors: [] },
  {
    name: 'a Namespace name with a dot is refused (a label)',
    files: { '1-a/10-x.yml': named('Namespace', 'team.a') },
    errors: ['Namespace team.a: metadata.name "team.a" is not valid for a Namespace: it must be a DNS-1123 label'],
  },
  { name: 'a 64-character Namespace name is refused', files: { '1-a/10-x.yml': named('Namespace', 'n'.repeat(64)) }, errors: ['at most 63 characters'] },
  {
    name: 'a Service name starting with a digit is refused (DNS-1035)',
    files: { '1-a/10-x.yml': named('Service', '1web') },
    errors: ['not valid for a Service: it must be a DNS-1035 label'],
  },
  {
    name: 'a CronJob name over 52 characters is refused',
    files: { '1-a/10-x.yml': named('CronJob', 'c'.repeat(53), 'batch/v1') },
    errors: ['not valid for a CronJob', 'at most 52 characters'],
  },
  {
    name: 'RBAC names may hold colons',
    files: { '1-a/10-x.yml': named('ClusterRole', 'system:aggregate-to-view', 'rbac.authorization.k8s.io/v1') },
    errors: [],
  },
  {
    name: 'RBAC names may not be ".."',
    files: { '1-a/10-x.yml': named('ClusterRole', '..', 'rbac.authorization.k8s.io/v1') },
    errors: ['not valid for a ClusterRole'],
  },
  {
    name: 'a namespace of ".." is refused',
    files: { '1-a/10-x.yml': cm('c', '  namespace: ..\n') },
    errors: ['1-a/10-x.yml:5:14: error: ConfigMap ../c: metadata.namespace ".." is not valid'],
  },
  {
    name: 'a namespace with "/" is refused',
    files: { '1-a/10-x.yml': cm('c', '  namespace: kube-system/x\n') },
    errors: ['metadata.namespace "kube-system/x" is not valid'],
  },
  {
    name: 'an apiVersion that climbs a path is refused',
    files: { '1-a/10-x.yml': 'apiVersion: ../api/v1\nkind: ConfigMap\nmetadata: {name: c}\n' },
    errors: ['1-a/10-x.yml:1:13: error: ConfigMap c: apiVersion "../api/v1" is not valid'],
  },
  {
    name: 'an apiVersion with two slashes is refused',
    files: { '1-a/10-x.yml': 'apiVersion: apps/v1/x\nkind: Deployment\nmetadata: {name: d}\n' },
    errors: ['apiVersion "apps/v1/x" is not valid'],
  },
  {
    name: 'a kind with a slash is refused',
    files: { '1-a/10-x.yml': 'apiVersion: v1\nkind: ../Secret\nmetadata: {name: c}\n' },
    errors: ['1-a/10-x.yml:2:7: error: ../Secret c: kind "../Secret" is not valid'],
  },

  // The same object twice (16.3).
  {
    name: 'one copy without a namespace and one in "default" are the same object',
    files: { '1-a/10-x.yml': cm('c'), '1-a/20-y.yml': cm('c', '  namespace: default\n') },
    errors: ['1-a/20-y.yml:1:1: error: duplicate object: ConfigMap default/c is also defined at deploy/1-a/10-x.yml:1:1'],
  },
  {
    name: 'without a namespace means the target namespace when the Pipeline sets one',
    files: { '1-a/10-x.yml': cm('c'), '1-a/20-y.yml': cm('c', '  namespace: edge\n') },
    options: { defaultNamespace: 'edge' },
    errors: ['duplicate object: ConfigMap edge/c'],
  },
  {
    name: 'a custom resource twice, once in "default", is the same object',
    files: { '1-a/10-x.yml': named('Widget', 'w', 'example.com/v1'), '1-a/20-y.yml': `${named('Widget', 'w', 'example.com/v1')}  namespace: default\n` },
    errors: ['duplicate object: Widget'],
  },
  {
    name: 'a custom resource in two namespaces is two objects',
    files: {
      '1-a/10-x.yml': `${named('Widget', 'w', 'example.com/v1')}  namespace: a\n`,
      '1-a/20-y.yml': `${named('Widget', 'w', 'example.com/v1')}  namespace: b\n`,
    },
    errors: [],
  },

  // YAML the way kubectl reads it, strictly (16.6).
  {
    name: 'a file that is not UTF-8 is refused at the bad byte',
    files: { '1-a/10-x.yml': Buffer.concat([Buffer.from(cm('c', 'data:\n  k: "ab')), Buffer.from([0xff]), Buffer.from('"\n')]) },
    errors: ['1-a/10-x.yml:6:9: error: file is not UTF-8: byte 0xff at byte offset 65'],
  },
  {
    name: 'an overlong UTF-8 form is refused',
    files: { '1-a/10-x.yml': Buffer.concat([Buffer.from('a: "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"\n')]) },
    errors: ['1-a/10-x.yml:1:5: error: file is not UTF-8: byte 0xc0 at byte offset 4'],
  },
  { name: 'a lone "." is a string, as in kubectl', files: { '1-a/10-x.yml': data('.') }, errors: [] },
  {
    name: '.nan is refused',
    files: { '1-a/10-x.yml': cm('c', 'spec:\n  replicas: .nan\n') },
    errors: ['1-a/10-x.yml:6:13: error: ConfigMap c: .nan is not a number Kubernetes can take'],
  },
  { name: '.inf is refused', files: { '1-a/10-x.yml': cm('c', 'spec: {a: .inf}\n') }, errors: ['.inf is not a number'] },
  { name: '-.Inf is refused', files: { '1-a/10-x.yml': cm('c', 'spec: [-.Inf]\n') }, errors: ['-.Inf is not a number'] },
  {
    name: 'an integer beyond 2^53 is refused',
    files: { '1-a/10-x.yml': cm('c', 'spec:\n  limit: 12345678901234567890\n') },
    errors: ['1-a/10-x.yml:6:10: error: ConfigMap c: integer 12345678901234567890 is beyond 2^53'],
  },
  {
    name: 'a big integer in a list is refused too',
    files: { '1-a/10-x.yml': cm('c', 'spec:\n  - 9007199254740993\n') },
    errors: ['integer 9007199254740993 is beyond 2^53'],
  },
  {
    name: 'a big hexadecimal integer is refused too',
    files: { '1-a/10-x.yml': cm('c', 'spec: {a: 0x20000000000000}\n') },
    errors: ['integer 0x20000000000000 is beyond 2^53'],
  },
  { name: 'the largest exact integer is fine', files: { '1-a/10-x.yml': cm('c', 'spec: {a: 9007199254740991}\n') }, errors: [] },
  {
    name: 'a List stands for its items, each checked where it starts',
    files: {
      '1-a/10-x.yml':
        'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ok}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: Bad}\n- just a string\n',
    },
    errors: ['1-a/10-x.yml:9:20: error: ConfigMap Bad: metadata.name "Bad" is not valid', '1-a/10-x.yml:10:3: error: List item is a string, not a mapping'],
  },
  {
    name: 'a List without items is refused',
    files: { '1-a/10-x.yml': 'apiVersion: v1\nkind: List\nitems: {}\n' },
    errors: ['1-a/10-x.yml:3:8: error: a List needs "items", a list of objects; found a object'],
  },
  {
    name: 'deep flow nesting is refused, not a crash',
    files: { '1-a/10-x.yml': `a: ${'['.repeat(100_000)}` },
    errors: ['1-a/10-x.yml:1:103: error: nesting deeper than 100 levels'],
  },
  {
    name: 'deep compact nesting is refused, not a crash',
    files: { '1-a/10-x.yml': `${'- '.repeat(20_000)}x\n` },
    errors: ['1-a/10-x.yml:1:201: error: nesting deeper than 100 levels'],
  },
  {
    name: 'deep block nesting is refused, not a crash',
    files: { '1-a/10-x.yml': Array.from({ length: 400 }, (_, i) => `${'  '.repeat(i)}k:`).join('\n') },
    errors: ['1-a/10-x.yml:101:202: error: nesting deeper than 100 levels'],
  },
  {
    name: 'a file name with a newline is printed escaped: it cannot forge a line',
    files: { '1-a/10-x\nerror: all good.yml': named('ConfigMap', 'Bad') },
    errors: ['deploy/1-a/10-x\\nerror: all good.yml:4:9: error: ConfigMap Bad'],
  },
  {
    name: 'an object name with a newline is printed escaped',
    files: { '1-a/10-x.yml': named('ConfigMap', 'a\nerror: forged') },
    errors: ['metadata.name "a\\nerror: forged" is not valid'],
  },
  {
    name: 'fields the API server writes are removed with a warning',
    files: { '1-a/10-x.yml': cm('c', '  uid: 1b2c\n  resourceVersion: "42"\n  managedFields: []\nstatus: {phase: Active}\n') },
    errors: [],
    warnings: ['1-a/10-x.yml:5:3: warning: ConfigMap c: metadata.managedFields, metadata.resourceVersion, metadata.uid, status are set by the API server'],
  },

  // Bounded memory: limits, not luck (16.6).
  {
    name: 'a megabyte of bare "---" is refused after 1,000 documents',
    files: { '1-a/10-x.yml': separators.slice(0, MiB - 1) },
    errors: ['1-a/10-x.yml:1001:1: error: file has more than 1000 YAML documents; refused'],
  },
  {
    name: '64 files of a megabyte of bare "---" each are refused, each at its 1,001st document',
    files: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`1-a/${10 + i}-x.yml`, separators.slice(0, MiB - 1)])),
    errors: [
      '1-a/10-x.yml:1001:1: error: file has more than 1000 YAML documents',
      '1-a/28-x.yml:1001:1: error: file has more than 1000 YAML documents',
      // 19 files of 1,001 documents read: 981 of the commit's 20,000 left.
      '1-a/29-x.yml:982:1: error: the commit holds more YAML documents than its limit allows; refused (this file and later ones not read)',
    ],
  },
  {
    name: 'many files of documents are refused at the commit limit',
    files: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`1-a/${10 + i}-x.yml`, '---\n'.repeat(900)])),
    errors: ['1-a/32-x.yml:201:1: error: the commit holds more YAML documents than its limit allows; refused (this file and later ones not read)'],
  },
  {
    name: 'a 600 KB string aliased 90 times is refused',
    files: { '1-a/10-x.yml': aliased90 },
    errors: ['1-a/10-x.yml:1:1: error: document is over 3145728 bytes once its aliases are expanded'],
  },
  {
    name: 'the expanded size of a commit is bounded too',
    files: { '1-a/10-x.yml': cm('a', `data: {v: "${'x'.repeat(900)}"}\n`), '1-a/20-y.yml': cm('b', `data: {v: "${'y'.repeat(900)}"}\n`) },
    options: { maxTotalExpandedBytes: 1500 },
    errors: ['1-a/20-y.yml:1:1: error: the commit holds more bytes (after alias expansion) than its limit allows'],
  },

  {
    name: 'a folder of more entries than the limit is refused, naming it, unread',
    files: { '1-a/10-x.yml': cm('a'), '1-a/20-x.yml': cm('b'), '1-a/30-x.yml': cm('c'), '1-a/README.md': '' },
    options: { maxFolderEntries: 3 },
    errors: ['1-a: error: folder holds more than 3 entries, the limit for one folder; refused (nothing in it is read)'],
  },
  {
    name: 'the entries of all folders of a render are bounded too',
    files: { '1-a/10-x.yml': cm('a'), '2-b/10-x.yml': cm('b'), '2-b/20-x.yml': cm('c') },
    options: { maxTotalEntries: 4 },
    errors: ['2-b: error: the folders of this render hold more than 4 entries in all, the limit for one render'],
  },
  {
    name: 'a kustomization.yaml symlinked to /dev/zero is refused, not read without end',
    files: {},
    symlinks: { '1-app/kustomization.yaml': '/dev/zero' },
    errors: ['1-app: error: kustomization refused: deploy/1-app/kustomization.yaml: leads outside the repository through a symlink; refused'],
  },
  {
    name: 'a kustomization nested 200,000 levels deep is refused at its line, not a crash',
    files: { '1-app/kustomization.yaml': `resources: ${'['.repeat(200_000)}` },
    errors: ['1-app: error: kustomization refused: deploy/1-app/kustomization.yaml:1:111: nesting deeper than 100 levels; refused'],
  },

  // Validate and sync agree on what is read and what is skipped (16.7).
  {
    name: 'a symlink that stays inside the repository is followed',
    files: { '/shared/cm.yml': cm('shared') },
    symlinks: { '1-a/10-x.yml': '../../shared/cm.yml' },
    errors: [],
  },
  {
    name: 'a symlink that leaves the repository is refused',
    files: {},
    symlinks: { '1-a/10-x.yml': '/etc/hostname' },
    errors: ['1-a/10-x.yml: error: symlink to "/etc/hostname" leaves the repository; refused'],
  },
  {
    name: 'a hidden file in a wave is skipped, saying why',
    files: { '1-a/.10-x.yml': cm('c') },
    errors: [],
    warnings: ['1-a/.10-x.yml: warning: hidden file; skipped'],
  },
  { name: 'a hidden folder is not content', files: { '.github/ci.yml': 'on: push\n', '1-a/.cache/10-x.yml': cm('c') }, errors: [], warnings: [] },
  {
    name: 'a .json file is skipped, saying why',
    files: { '1-a/10-x.json': '{"apiVersion": "v1"}' },
    errors: [],
    warnings: ['1-a/10-x.json: warning: JSON file; skipped'],
  },
  {
    name: 'an upper-case .YML is skipped, saying why',
    files: { '1-a/10-x.YML': cm('c') },
    errors: [],
    warnings: ['1-a/10-x.YML: warning: extension is not lower-case .yml or .yaml; skipped'],
  },
  {
    name: 'a step number beyond 2^53 is refused, not "does not match"',
    files: { '1-a/99999999999999999999-x.yml': cm('c') },
    errors: ['1-a/99999999999999999999-x.yml: error: step number 99999999999999999999 is too large to order exactly'],
  },
  {
    name: 'a wave number beyond 2^53 is refused',
    files: { '9007199254740993-a/10-x.yml': cm('c') },
    errors: ['9007199254740993-a: error: wave number 9007199254740993 is too large'],
  },
  {
    name: 'a git submodule (an empty folder in a checkout) is skipped with the real reason',
    files: { '/.gitmodules': '[submodule "charts"]\n\tpath = deploy/2-charts\n\turl = https://example.com/charts.git\n', '2-charts/.keep': '' },
    errors: [],
    warnings: ['2-charts: warning: git submodule (listed in .gitmodules): DORIS does not fetch submodules; skipped'],
  },
  {
    name: 'a folder holding its own .git is skipped with the real reason',
    files: { '2-vendor/.git': 'gitdir: ../.git/modules/vendor\n', '2-vendor/10-x.yml': cm('c') },
    errors: [],
    warnings: ['2-vendor: warning: folder is a git repository of its own'],
  },
];

/** The repository for a row: files under `deploy/`, `.git` at the root as in a clone. */
async function repoOf(row: Row): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'doris-hostile-'));
  temps.push(root);
  await mkdir(join(root, '.git'));
  await mkdir(join(root, 'deploy'));
  const place = (path: string): string => (path.startsWith('/') ? join(root, path.slice(1)) : join(root, 'deploy', path));
  for (const [path, content] of Object.entries(row.files)) {
    await mkdir(dirname(place(path)), { recursive: true });
    await writeFile(place(path), content);
  }
  for (const [path, target] of Object.entries(row.symlinks ?? {})) {
    await mkdir(dirname(place(path)), { recursive: true });
    await symlink(target, place(path));
  }
  return root;
}

/** What a sync reports for the commit: the render's problems, thrown or not. */
async function syncProblems(root: string, options?: Partial<RenderOptions>): Promise<Problem[]> {
  try {
    return (await renderRepo(root, 'deploy', options)).problems;
  } catch (e) {
    assert.ok(e instanceof RenderError, `expected a RenderError, got ${String(e)}`);
    return e.problems;
  }
}

function expectLines(lines: string[], expected: string[] | undefined, severity: string): void {
  const ofSeverity = lines.filter((l) => l.includes(`: ${severity}: `));
  if (expected === undefined) return;
  if (expected.length === 0) assert.deepEqual(ofSeverity, [], `no ${severity}s expected`);
  for (const part of expected) {
    assert.ok(
      ofSeverity.some((l) => l.includes(part)),
      `expected a ${severity} containing ${JSON.stringify(part)}; got:\n${ofSeverity.join('\n')}`,
    );
  }
}

describe('hostile repositories', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const root = await repoOf(row);
      const sync = await syncProblems(root, row.options);
      const validate = await validateFolder(join(root, 'deploy'), row.options);
      assert.deepEqual(validate.problems, sync, 'doris validate reports what a sync reports');

      const printed = formatProblems(sync);
      const lines = printed === '' ? [] : printed.split('\n');
      assert.equal(lines.length, sync.length, 'one printed line per problem, whatever the input');
      expectLines(lines, row.errors, 'error');
      expectLines(lines, row.warnings, 'warning');
    });
  }
});
