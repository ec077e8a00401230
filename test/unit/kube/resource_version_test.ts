import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareResourceVersions } from '../../../src/kube/object.js';

describe('compareResourceVersions', () => {
  const cases: Array<[string | undefined, string | undefined, number | undefined, string]> = [
    ['9', '10', -1, 'by value, not as text'],
    ['10', '9', 1, 'longer is larger'],
    ['123', '123', 0, 'equal'],
    ['123', '124', -1, 'same length'],
    ['18446744073709551617', '18446744073709551616', 1, 'past 2^64, no precision lost'],
    ['010', '9', undefined, 'a leading zero is not a resourceVersion'],
    ['0', '1', undefined, 'zero is no live version'],
    ['12a', '13', undefined, 'not a number'],
    ['', '1', undefined, 'empty'],
    [undefined, '1', undefined, 'missing'],
    ['-1', '1', undefined, 'negative'],
  ];
  for (const [a, b, expected, why] of cases) {
    it(`${a} vs ${b}: ${why}`, () => {
      const got = compareResourceVersions(a, b);
      assert.equal(got === undefined ? undefined : Math.sign(got), expected);
    });
  }
});
