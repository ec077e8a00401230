import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Amount, parseRolloutPolicy, required, selects, tolerated } from '../../../src/hub/rollout/policy.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  assert.fail('expected an error');
}

describe('parseRolloutPolicy', () => {
  it('fills in every default', () => {
    assert.deepEqual(parseRolloutPolicy({ stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } } }] }), {
      stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: { percent: 100 }, maxFailures: { count: 0 }, soak: '0s', soakMs: 0 }],
      autoRollback: false,
    });
  });

  it('reads counts, percents and durations as written', () => {
    const policy = parseRolloutPolicy({
      autoRollback: true,
      stages: [
        { name: 'a', selector: {}, minReady: '50%', maxFailures: 2, soak: '1h30m' },
        { name: 'b', selector: {}, minReady: 3, maxFailures: '10%' },
        { name: 'c', selector: {}, minReady: '4' },
      ],
    });
    assert.equal(policy?.autoRollback, true);
    assert.deepEqual(
      policy?.stages.map((s) => [s.minReady, s.maxFailures, s.soakMs]),
      [
        [{ percent: 50 }, { count: 2 }, 5_400_000],
        [{ count: 3 }, { percent: 10 }, 0],
        [{ count: 4 }, { count: 0 }, 0],
      ],
    );
  });

  it('is undefined without a policy', () => {
    assert.equal(parseRolloutPolicy(undefined), undefined);
    assert.equal(parseRolloutPolicy(null), undefined);
  });

  // Hostile and mistaken input: each error names the field.
  const bad: Array<[string, unknown, string]> = [
    ['percent above 100', { stages: [{ name: 'a', selector: {}, minReady: '101%' }] }, 'spec.rollout.stages.0.minReady'],
    ['negative count', { stages: [{ name: 'a', selector: {}, maxFailures: -1 }] }, 'spec.rollout.stages.0.maxFailures'],
    ['fractional count', { stages: [{ name: 'a', selector: {}, minReady: 1.5 }] }, 'spec.rollout.stages.0.minReady'],
    ['decimal percent', { stages: [{ name: 'a', selector: {}, minReady: '50.5%' }] }, 'spec.rollout.stages.0.minReady'],
    ['word', { stages: [{ name: 'a', selector: {}, minReady: 'all' }] }, 'spec.rollout.stages.0.minReady'],
    ['soak without unit', { stages: [{ name: 'a', selector: {}, soak: '10' }] }, 'spec.rollout.stages.0.soak'],
    ['soak over a week', { stages: [{ name: 'a', selector: {}, soak: '169h' }] }, 'spec.rollout.stages.0.soak'],
    ['upper-case name', { stages: [{ name: 'Canary', selector: {} }] }, 'spec.rollout.stages.0.name'],
    ['the implicit stage name', { stages: [{ name: '(rest)', selector: {} }] }, 'spec.rollout.stages.0.name'],
    [
      'duplicate names',
      {
        stages: [
          { name: 'a', selector: {} },
          { name: 'a', selector: {} },
        ],
      },
      'spec.rollout.stages.1.name: a second stage named "a"',
    ],
    ['no selector', { stages: [{ name: 'a' }] }, 'spec.rollout.stages.0.selector'],
    ['unknown stage field', { stages: [{ name: 'a', selector: {}, minready: 1 }] }, 'spec.rollout.stages.0'],
    [
      'unknown operator',
      { stages: [{ name: 'a', selector: { matchExpressions: [{ key: 'k', operator: 'Gt', values: ['1'] }] } }] },
      'spec.rollout.stages.0.selector.matchExpressions.0.operator',
    ],
    [
      'In without values',
      { stages: [{ name: 'a', selector: { matchExpressions: [{ key: 'k', operator: 'In' }] } }] },
      'spec.rollout.stages.0.selector.matchExpressions.0.values: In needs at least one value',
    ],
    [
      'Exists with values',
      { stages: [{ name: 'a', selector: { matchExpressions: [{ key: 'k', operator: 'Exists', values: ['x'] }] } }] },
      'spec.rollout.stages.0.selector.matchExpressions.0.values: Exists takes no values',
    ],
    ['bad label key', { stages: [{ name: 'a', selector: { matchLabels: { 'a b': 'x' } } }] }, 'spec.rollout.stages.0.selector.matchLabels'],
    [
      'a label key whose name is over 63 characters',
      { stages: [{ name: 'a', selector: { matchExpressions: [{ key: `x.io/${'n'.repeat(64)}`, operator: 'Exists' }] } }] },
      'spec.rollout.stages.0.selector.matchExpressions.0.key: label key',
    ],
    [
      'a label key prefix that is no DNS subdomain',
      { stages: [{ name: 'a', selector: { matchLabels: { 'a..b/ring': 'x' } } }] },
      'its prefix must be a DNS-1123 subdomain',
    ],
    ['a label value over 63 characters', { stages: [{ name: 'a', selector: { matchLabels: { ring: 'v'.repeat(64) } } }] }, 'must be empty or at most 63'],
    ['autoRollback as text', { autoRollback: 'yes' }, 'spec.rollout.autoRollback'],
    ['stages not a list', { stages: { name: 'a' } }, 'spec.rollout.stages'],
    ['too many stages', { stages: Array.from({ length: 17 }, (_, i) => ({ name: `s${i}`, selector: {} })) }, 'spec.rollout.stages'],
  ];
  for (const [what, raw, field] of bad) {
    it(`refuses ${what}, naming the field`, () => {
      const message = errorOf(() => parseRolloutPolicy(raw));
      assert.match(message, /^invalid Fleet rollout policy: /);
      assert.ok(message.includes(field), `${message} should name ${field}`);
    });
  }
});

describe('selects', () => {
  const labels = { ring: 'canary', site: 'north' };
  const cases: Array<[string, Parameters<typeof selects>[0], boolean]> = [
    ['empty selector: every device', {}, true],
    ['matchLabels equal', { matchLabels: { ring: 'canary' } }, true],
    ['matchLabels differ', { matchLabels: { ring: 'rest' } }, false],
    ['matchLabels absent key', { matchLabels: { zone: 'a' } }, false],
    ['In', { matchExpressions: [{ key: 'site', operator: 'In', values: ['north', 'south'] }] }, true],
    ['In, absent key', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn', { matchExpressions: [{ key: 'site', operator: 'NotIn', values: ['north'] }] }, false],
    ['NotIn, absent key matches', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'ring', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'ring', operator: 'DoesNotExist' }] }, false],
    ['all requirements must hold', { matchLabels: { ring: 'canary' }, matchExpressions: [{ key: 'site', operator: 'In', values: ['south'] }] }, false],
  ];
  for (const [what, selector, expected] of cases) it(what, () => assert.equal(selects(selector, labels), expected));
});

describe('thresholds', () => {
  const cases: Array<[string, Amount, number, number]> = [
    ['50% of 3 rounds up', { percent: 50 }, 3, 2],
    ['50% of 2', { percent: 50 }, 2, 1],
    ['1% of 1 rounds up to the device', { percent: 1 }, 1, 1],
    ['0% needs none', { percent: 0 }, 3, 0],
    ['100% needs all', { percent: 100 }, 3, 3],
    ['33% of 3 rounds up to 1', { percent: 33 }, 3, 1],
    ['a count', { count: 2 }, 3, 2],
    ['a count above the stage size means all of it', { count: 5 }, 3, 3],
    ['0 of an empty stage', { percent: 100 }, 0, 0],
  ];
  for (const [what, amount, size, expected] of cases) it(`minReady: ${what}`, () => assert.equal(required(amount, size), expected));

  const failures: Array<[string, Amount, number, number]> = [
    ['10% of 5 rounds down to 0', { percent: 10 }, 5, 0],
    ['50% of 3 rounds down to 1', { percent: 50 }, 3, 1],
    ['34% of 3 rounds down to 1', { percent: 34 }, 3, 1],
    ['33% of 3 rounds down to 0', { percent: 33 }, 3, 0],
    ['100% tolerates all', { percent: 100 }, 4, 4],
    ['a count', { count: 1 }, 10, 1],
  ];
  for (const [what, amount, size, expected] of failures) it(`maxFailures: ${what}`, () => assert.equal(tolerated(amount, size), expected));
});
