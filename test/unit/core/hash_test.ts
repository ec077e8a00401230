import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, stableHash } from '../../../src/render/hash.js';

/** An object with the given keys inserted in exactly this order. */
function inserted(entries: Array<[string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) object[key] = value;
  return object;
}

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[{"x":2,"y":1}]},"b":1}');
  });

  it('does not depend on key insertion order', () => {
    const forward = inserted([
      ['name', 'web'],
      [
        'labels',
        inserted([
          ['tier', 'front'],
          ['app', 'web'],
        ]),
      ],
    ]);
    const backward = inserted([
      [
        'labels',
        inserted([
          ['app', 'web'],
          ['tier', 'front'],
        ]),
      ],
      ['name', 'web'],
    ]);
    assert.equal(canonicalJson(forward), canonicalJson(backward));
  });

  it('does not depend on key insertion order when keys are integer-like', () => {
    const forward = inserted([
      ['10', 1],
      ['2', 2],
    ]);
    const reversed = inserted([
      ['2', 2],
      ['10', 1],
    ]);
    assert.equal(canonicalJson(forward), '{"10":1,"2":2}');
    assert.equal(canonicalJson(reversed), '{"10":1,"2":2}');
  });

  it('does not depend on insertion order when integer-like and named keys mix', () => {
    // JS puts "10" first in both objects, but "b" and "a" in insertion order.
    const one = inserted([
      ['b', 1],
      ['10', 2],
      ['a', 3],
    ]);
    const two = inserted([
      ['a', 3],
      ['10', 2],
      ['b', 1],
    ]);
    assert.equal(canonicalJson(one), canonicalJson(two));
    assert.equal(canonicalJson(one), '{"10":2,"a":3,"b":1}');
  });

  it('drops undefined values from objects, as JSON does', () => {
    assert.equal(canonicalJson({ a: 1, b: undefined, c: { d: undefined } }), '{"a":1,"c":{}}');
    assert.equal(canonicalJson({ a: 1, b: undefined }), canonicalJson({ a: 1 }));
  });

  it('writes undefined array items and a bare undefined as null, as JSON does', () => {
    assert.equal(canonicalJson([1, undefined, 3]), '[1,null,3]');
    assert.equal(canonicalJson(undefined), 'null');
  });

  it('keeps array order', () => {
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });

  it('writes scalars as JSON and escapes keys and strings', () => {
    assert.equal(canonicalJson({ 'a"b': 'line\nbreak', n: null, t: true, x: 1.5 }), '{"a\\"b":"line\\nbreak","n":null,"t":true,"x":1.5}');
  });

  it('parses back to the same data', () => {
    const data = { spec: { replicas: 2, args: ['--a', '--b'], env: { '2': 'two', '10': 'ten' } }, on: false };
    assert.deepEqual(JSON.parse(canonicalJson(data)), data);
  });
});

describe('stableHash', () => {
  it('is a sha256 in hex', () => {
    assert.match(stableHash({ a: 1 }), /^[0-9a-f]{64}$/);
  });

  it('is the same for the same data inserted in another order', () => {
    assert.equal(
      stableHash(
        inserted([
          ['b', 1],
          ['a', 2],
        ]),
      ),
      stableHash(
        inserted([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    );
  });

  it('differs when a value changes', () => {
    const base = { spec: { replicas: 2, image: 'web:1' } };
    assert.notEqual(stableHash(base), stableHash({ spec: { replicas: 3, image: 'web:1' } }));
    assert.notEqual(stableHash(base), stableHash({ spec: { replicas: '2', image: 'web:1' } }));
    assert.notEqual(stableHash(base), stableHash({ spec: { replicas: 2, image: 'web:2' } }));
  });

  it('differs when a key is renamed or added', () => {
    assert.notEqual(stableHash({ a: 1 }), stableHash({ b: 1 }));
    assert.notEqual(stableHash({ a: 1 }), stableHash({ a: 1, b: null }));
  });
});
