import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultYamlLimits, parseManifests } from '../../../src/render/yaml.js';

describe('parseManifests', () => {
  it('reads 0644 as octal 420 and yes/on as booleans, as kubectl does (YAML 1.1)', () => {
    const { documents, problems } = parseManifests(
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: p',
        'spec:',
        '  containers: [{name: c, image: busybox, tty: yes, stdin: on}]',
        '  volumes: [{name: v, secret: {secretName: s, defaultMode: 0644}}]',
        '',
      ].join('\n'),
      'pod.yml',
    );
    assert.deepEqual(problems, []);
    const spec = documents[0]!.object['spec'] as {
      containers: { tty: unknown; stdin: unknown }[];
      volumes: { secret: { defaultMode: unknown } }[];
    };
    assert.equal(spec.volumes[0]!.secret.defaultMode, 420);
    assert.equal(spec.containers[0]!.tty, true);
    assert.equal(spec.containers[0]!.stdin, true);
  });

  it('keeps dates and base-60 looking values as strings, as kubectl does', () => {
    const { documents } = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  since: 2024-01-31\n  at: 10:30\n', 'cm.yml');
    assert.deepEqual(documents[0]!.object['data'], { since: '2024-01-31', at: '10:30' });
  });

  it('returns every document of a multi-document file with the line and column where it starts', () => {
    const text = [
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: a}',
      '---',
      '# a comment before the second document',
      '  apiVersion: v1',
      '  kind: ConfigMap',
      '  metadata: {name: b}',
      '',
    ].join('\n');
    const { documents, problems } = parseManifests(text, 'two.yml');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      documents.map((d) => [d.object.metadata.name, d.line, d.col]),
      [
        ['a', 2, 1],
        ['b', 7, 3],
      ],
    );
  });

  it('skips empty, comment-only and null documents', () => {
    const text = '\n---\n# only a comment\n---\n~\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n---\n';
    const { documents, problems } = parseManifests(text, 'sparse.yml');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      documents.map((d) => d.object.metadata.name),
      ['kept'],
    );
    for (const text of ['', '# nothing\n# here\n']) {
      const parsed = parseManifests(text, 'empty.yml');
      assert.deepEqual([parsed.documents, parsed.problems], [[], []]);
    }
  });

  it('refuses an alias bomb with a clear error', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [prev, next] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
    ] as const) {
      levels.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
    const { documents, problems } = parseManifests(text, 'bomb.yml');
    assert.deepEqual(documents, []);
    assert.deepEqual(problems, [
      {
        severity: 'error',
        file: 'bomb.yml',
        line: 1,
        col: 1,
        message: 'too many alias expansions (over 100): refused as a possible alias bomb',
      },
    ]);
  });

  it('accepts ordinary anchors and aliases under the limit', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: &l {app: web}}\ndata: {copy: *l}\n';
    // The limit counts the anchored node itself and each use of it.
    const { documents, problems } = parseManifests(text, 'alias.yml', { maxAliasCount: 2 });
    assert.deepEqual(problems, []);
    assert.deepEqual(documents[0]!.object['data'], { copy: { app: 'web' } });
    const twice = text.replace('{copy: *l}', '{copy: *l, again: *l}');
    assert.equal(parseManifests(twice, 'x.yml', { maxAliasCount: 2 }).problems.length, 1);
  });

  it('refuses a file over the size limit without parsing it', () => {
    assert.equal(defaultYamlLimits().maxFileBytes, 1024 * 1024);
    // Malformed on purpose: had it been parsed, there would be a syntax error too.
    const text = `key: [unterminated\n${'#'.repeat(100)}\n`;
    const { documents, problems } = parseManifests(text, 'big.yml', { maxFileBytes: 100 });
    assert.deepEqual(documents, []);
    assert.deepEqual(problems, [
      {
        severity: 'error',
        file: 'big.yml',
        message: `file is ${Buffer.byteLength(text)} bytes, over the limit of 100 bytes; refused`,
      },
    ]);
  });

  it('counts the size limit in UTF-8 bytes, not characters', () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: "${'é'.repeat(30)}"}\n`;
    assert.ok(text.length <= 100 && Buffer.byteLength(text) > 100);
    assert.equal(parseManifests(text, 'utf8.yml', { maxFileBytes: 100 }).problems.length, 1);
  });

  it('reports a syntax error at the line and column the YAML parser found', () => {
    const text = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: ok}',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: dup',
      '  name: again',
      '',
    ].join('\n');
    const { documents, problems } = parseManifests(text, 'deploy/1-a/10-x.yml');
    assert.deepEqual(
      documents.map((d) => d.object.metadata.name),
      ['ok'],
      'the valid document of the same file is still returned',
    );
    assert.deepEqual(problems, [{ severity: 'error', file: 'deploy/1-a/10-x.yml', line: 9, col: 3, message: 'Map keys must be unique' }]);
  });

  it('rejects a document that is not a mapping', () => {
    const { documents, problems } = parseManifests('just a string\n---\n- a\n- b\n', 'x.yml');
    assert.deepEqual(documents, []);
    assert.deepEqual(
      problems.map((p) => [p.line, p.col, p.message]),
      [
        [1, 1, 'document is a string, not a mapping; every document must be a Kubernetes object'],
        [3, 1, 'document is a list, not a mapping; every document must be a Kubernetes object'],
      ],
    );
  });

  it('rejects an object without apiVersion, kind or metadata.name, naming what is missing', () => {
    const text = [
      'apiVersion: v1',
      'metadata: {name: nokind}',
      '---',
      'kind: ConfigMap',
      'metadata: {}',
      '---',
      'apiVersion: 1',
      'kind: ConfigMap',
      'metadata: {name: numeric}',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: c, namespace: [a]}',
      '',
    ].join('\n');
    const { documents, problems } = parseManifests(text, 'x.yml');
    assert.deepEqual(documents, []);
    const needs = 'every object needs a string apiVersion, kind and metadata.name';
    assert.deepEqual(
      problems.map((p) => [p.line, p.message]),
      [
        [1, `object "nokind" has no kind; ${needs}`],
        [4, `object has no apiVersion, metadata.name; ${needs}`],
        [7, `object "numeric" has no apiVersion; ${needs}`],
        [11, 'metadata.namespace must be a string, not a list'],
      ],
    );
  });
});
