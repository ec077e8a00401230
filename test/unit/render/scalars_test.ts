import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifests } from '../../../src/render/yaml.js';

/** The value kubectl (go-yaml v2) reads for an unquoted `v: <source>`, or the error DORIS gives. */
const cases: [source: string, expected: unknown][] = [
  ['.', '.'],
  ['..', '..'],
  ['0644', 420],
  ['0o17', 15],
  ['0x1F', 31],
  ['0b101', 5],
  ['-0x10', -16],
  ['1_000', 1000],
  ['08', 8],
  ['+12', 12],
  ['1.5e3', 1500],
  ['.5', 0.5],
  ['1.', 1],
  ['1e400', '1e400'],
  ['1:20', '1:20'],
  ['2024-01-31', '2024-01-31'],
  ['1-2', '1-2'],
  ['-.nan', '-.nan'],
  ['9007199254740991', 9007199254740991],
  ['-9007199254740991', -9007199254740991],
  ['yes', true],
  ['~', null],
  ['.nan', Error],
  ['.NaN', Error],
  ['.inf', Error],
  ['+.inf', Error],
  ['-.INF', Error],
  ['9007199254740992', Error],
  ['-9007199254740992', Error],
  ['12345678901234567890', Error],
  ['0x20000000000000', Error],
  ['0777777777777777777777', Error],
];

describe('plain scalars, read as kubectl reads them', () => {
  for (const [source, expected] of cases) {
    it(`reads ${source} as ${expected === Error ? 'an error' : JSON.stringify(expected)}`, () => {
      const { documents, problems } = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nv: ${source}\n`, 'x.yml');
      if (expected === Error) {
        assert.equal(documents.length, 0);
        assert.equal(problems.length, 1);
        assert.equal(problems[0]!.line, 4);
        assert.equal(problems[0]!.col, 4);
        assert.match(problems[0]!.message, /quote it if it is a string/);
      } else {
        assert.deepEqual(problems, []);
        assert.deepEqual(documents[0]!.object['v'], expected);
      }
    });
  }

  it('leaves quoted values alone', () => {
    const { documents } = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: ".nan", b: '12345678901234567890'}\n`, 'x.yml');
    assert.deepEqual(documents[0]!.object['data'], { a: '.nan', b: '12345678901234567890' });
  });
});
