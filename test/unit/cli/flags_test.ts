/** Duration and number flags follow the Pipeline spec's rules; a bad value names the flag and shows one that works. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { durationFlag, formatDuration, integerFlag, listenFlag } from '../../../src/cli/common.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const doris = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  });

describe('duration flags', () => {
  const parse = durationFlag('--poll-interval 10s');

  it('read durations the way the spec does', () => {
    assert.equal(parse('10s'), 10_000);
    assert.equal(parse('1h30m'), 5_400_000);
    assert.equal(parse('250ms'), 250);
  });

  it('refuse a number without a unit, zero, and anything else, with an example', () => {
    for (const bad of ['10', '0s', '', '-5s', '1.5s', '10 s', 'abc', '5d']) {
      assert.throws(
        () => parse(bad),
        (e: unknown) => e instanceof InvalidArgumentError && /e\.g\. --poll-interval 10s/.test(e.message),
        bad,
      );
    }
  });

  it('format defaults back into the same syntax', () => {
    assert.equal(formatDuration(15_000), '15s');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(1_500), '1s500ms');
    for (const ms of [1, 999, 15_000, 3_723_004]) assert.equal(parse(formatDuration(ms)), ms);
  });
});

describe('number flags', () => {
  const parse = integerFlag('--max-concurrent-syncs 4', 1);

  it('take whole numbers in range', () => {
    assert.equal(parse('4'), 4);
    assert.equal(parse(' 12 '), 12);
  });

  it('refuse NaN, fractions, signs, exponents and values out of range', () => {
    for (const bad of ['abc', '', '0', '-1', '1.5', '1e3', '0x10', '99999999999999999999']) {
      assert.throws(
        () => parse(bad),
        (e: unknown) => e instanceof InvalidArgumentError && /e\.g\. --max-concurrent-syncs 4/.test(e.message),
        bad,
      );
    }
  });

  it('listen addresses need a port from 0 to 65535', () => {
    const listen = listenFlag('--listen 127.0.0.1:8080');
    assert.deepEqual(listen(':8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(listen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(listen('[::1]:9000'), { host: '::1', port: 9000 });
    for (const bad of ['8080', ':', ':65536', 'host:http']) assert.throws(() => listen(bad), InvalidArgumentError, bad);
  });
});

describe('doris run refuses bad flags before it connects anywhere', () => {
  for (const [flag, value, example] of [
    ['--poll-interval', '10', '--poll-interval 10s'],
    ['--lease-duration', '15', '--lease-duration 15s'],
    ['--lease-renew', '0s', '--lease-renew 5s'],
    ['--image-poll-interval', '5', '--image-poll-interval 5s'],
    ['--max-concurrent-syncs', 'abc', '--max-concurrent-syncs 4'],
    ['--body-limit', '1MB', '--body-limit 1048576'],
  ] as const) {
    it(`${flag} ${value}: exit 2, naming the flag and an example`, () => {
      const result = doris('run', flag, value);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`option '${flag} <[a-z]+>' argument '${value}' is invalid`));
      assert.ok(result.stderr.includes(`e.g. ${example}`), result.stderr);
    });
  }

  it('a renew period not shorter than the Lease is a usage error', () => {
    const result = doris('run', '--lease-duration', '5s', '--lease-renew', '5s');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--lease-renew \(5s\) must be shorter than --lease-duration \(5s\)/);
  });
});
