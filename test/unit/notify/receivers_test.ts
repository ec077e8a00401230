import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkNotifyUrl, notifyReceiverSchema } from '../../../src/api/notify.js';
import { parsePipelineSpec } from '../../../src/api/pipeline.js';
import { backoff, defaultRetryOptions } from '../../../src/notify/deliver.js';
import { genericRequest } from '../../../src/notify/generic.js';
import { githubRepository, githubRequest } from '../../../src/notify/github.js';
import { sign, verify } from '../../../src/notify/sign.js';
import { slackRequest } from '../../../src/notify/slack.js';
import type { Notification } from '../../../src/notify/types.js';

const sha = '0123456789abcdef0123456789abcdef01234567';
const notification = (over: Partial<Notification> = {}): Notification => ({
  kind: 'SyncSucceeded',
  pipeline: { namespace: 'doris-system', name: 'edge' },
  cluster: 'plant-7',
  commit: sha,
  reason: 'Succeeded',
  message: 'applied 0123456789ab: 1 created',
  time: '2026-12-01T12:00:00.000Z',
  ...over,
});

describe('signing', () => {
  it('is sha256=<hex HMAC-SHA256 of the exact body>', () => {
    const body = '{"a":1}';
    assert.equal(sign(body, 'k3y'), `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`);
    // The published HMAC-SHA256 test vector.
    assert.equal(sign('The quick brown fox jumps over the lazy dog', 'key'), 'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });
  it('verifies only the same body and key', () => {
    const body = '{"a":1}';
    const header = sign(body, 'k3y');
    assert.ok(verify(body, 'k3y', header));
    assert.ok(!verify('{"a":2}', 'k3y', header));
    assert.ok(!verify(body, 'other', header));
    assert.ok(!verify(body, 'k3y', undefined));
    assert.ok(!verify(body, 'k3y', 'sha256=00'));
  });
});

describe('generic', () => {
  it('posts JSON naming the Pipeline and the full commit, signed over the bytes sent', () => {
    const receiver = notifyReceiverSchema.parse({ type: 'generic', url: 'https://hooks.example/doris', secretRef: { name: 's' } });
    const request = genericRequest(receiver, notification(), 'k3y');
    const body = JSON.parse(request.body);
    assert.equal(body.commit, sha);
    assert.deepEqual(body.pipeline, { namespace: 'doris-system', name: 'edge' });
    assert.equal(body.kind, 'SyncSucceeded');
    assert.equal(request.headers['x-doris-signature'], `sha256=${createHmac('sha256', 'k3y').update(request.body).digest('hex')}`);
    assert.ok(!request.body.includes('k3y'));
  });
});

describe('slack', () => {
  it('is an incoming-webhook message; the Secret address wins over the spec URL', () => {
    const receiver = notifyReceiverSchema.parse({ type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' });
    const request = slackRequest(receiver, notification({ message: 'a <b> & c' }), 'https://hooks.slack.com/services/T/B/SECRET');
    assert.equal(request.url, 'https://hooks.slack.com/services/T/B/SECRET');
    const text = JSON.parse(request.body).text as string;
    assert.match(text, /\*plant-7\/edge\* SyncSucceeded `0123456789ab`/);
    assert.match(text, /a &lt;b&gt; &amp; c/);
  });
});

describe('github', () => {
  const receiver = notifyReceiverSchema.parse({
    type: 'github',
    secretRef: { name: 't' },
    apiUrl: 'http://127.0.0.1:9/api/v3/',
    targetUrl: 'https://doris.example/',
  });
  it('a commit status on the synced commit, context doris/<cluster>/<pipeline>', () => {
    const request = githubRequest(receiver, notification(), 'tok', 'git@github.com:acme/fleet.git');
    assert.ok(!('skip' in request));
    assert.equal(request.url, `http://127.0.0.1:9/api/v3/repos/acme/fleet/statuses/${sha}`);
    assert.equal(request.headers.authorization, 'Bearer tok');
    assert.deepEqual(JSON.parse(request.body), {
      state: 'success',
      context: 'doris/plant-7/edge',
      description: 'Succeeded: applied 0123456789ab: 1 created',
      target_url: 'https://doris.example/',
    });
  });
  it('failures are failure; descriptions fit 140 characters; no commit or an image roll sends nothing', () => {
    const failed = githubRequest(
      receiver,
      notification({ kind: 'HealthFailed', reason: 'HealthCheckFailed', message: 'x'.repeat(500) }),
      'tok',
      'https://github.com/acme/fleet',
    );
    assert.ok(!('skip' in failed));
    const body = JSON.parse(failed.body);
    assert.equal(body.state, 'failure');
    assert.equal([...body.description].length, 140);
    assert.ok('skip' in githubRequest(receiver, notification({ commit: '' }), 'tok', 'https://github.com/acme/fleet'));
    assert.ok('skip' in githubRequest(receiver, notification({ kind: 'ImageRolled' }), 'tok', 'https://github.com/acme/fleet'));
    assert.ok('skip' in githubRequest(receiver, notification(), 'tok', 'https://example.com/just-one-segment'));
  });
  const repos: Array<[string, string | undefined]> = [
    ['https://github.com/acme/fleet.git', 'acme/fleet'],
    ['ssh://git@github.com/acme/fleet.git', 'acme/fleet'],
    ['git@github.com:acme/fleet.git', 'acme/fleet'],
    ['https://github.com/acme/fleet/', 'acme/fleet'],
    ['https://github.com/acme', undefined],
    ['https://github.com/acme/fleet/extra', undefined],
    ['https://github.com/../fleet', undefined],
    ['https://github.com/acme/fl%2Fet', undefined],
    ['not a url', undefined],
  ];
  for (const [url, expected] of repos) {
    it(`repository of ${url}: ${expected ?? 'none'}`, () => {
      const found = githubRepository(url);
      assert.equal(found ? `${found.owner}/${found.repo}` : undefined, expected);
    });
  }
});

describe('receiver URLs and specs (hostile input)', () => {
  const urls: Array<[string, boolean]> = [
    ['https://hooks.example/x', true],
    ['http://127.0.0.1:8080/x', true],
    ['http://localhost/x', true],
    ['http://[::1]:9/x', true],
    ['http://hooks.example/x', false],
    ['http://127.0.0.1.evil.example/x', false],
    ['https://user:pass@hooks.example/x', false],
    ['https://token@hooks.example/x', false],
    ['file:///etc/passwd', false],
    ['ftp://hooks.example/', false],
    ['javascript:alert(1)', false],
    ['hooks.example/x', false],
    ['', false],
  ];
  for (const [url, ok] of urls) {
    it(`${JSON.stringify(url)}: ${ok ? 'accepted' : 'refused'}`, () => assert.equal(checkNotifyUrl(url) === undefined, ok));
  }
  const specs: Array<[unknown, RegExp]> = [
    [{ type: 'generic', url: 'https://h.example/' }, /spec\.notify\.0\.secretRef: a generic receiver needs a secretRef/],
    [{ type: 'generic', secretRef: { name: 's' } }, /spec\.notify\.0\.url: a generic receiver needs a url/],
    [{ type: 'github', url: 'https://github.com/a/b' }, /spec\.notify\.0\.secretRef/],
    [{ type: 'slack' }, /needs a url, or a secretRef/],
    [{ type: 'slack', url: 'https://h.example/', apiUrl: 'https://x.example/' }, /spec\.notify\.0\.apiUrl: only for type github/],
    [{ type: 'teams', url: 'https://h.example/' }, /spec\.notify\.0\.type/],
    [{ type: 'generic', url: 'http://10.0.0.1/', secretRef: { name: 's' } }, /spec\.notify\.0\.url: an https:\/\/ URL/],
    [{ type: 'generic', url: 'https://h.example/', secretRef: { name: 's' }, secret: 'inline' }, /spec\.notify\.0/],
  ];
  for (const [receiver, message] of specs) {
    it(`refused: ${JSON.stringify(receiver)}`, () => {
      assert.throws(() => parsePipelineSpec({ git: { url: 'https://github.com/a/b' }, notify: [receiver] }), message);
    });
  }
});

describe('retry backoff', () => {
  it('doubles from the first delay, with jitter, capped; Retry-After is honoured up to the cap', () => {
    const o = { ...defaultRetryOptions, firstDelayMs: 1000, maxDelayMs: 8000 };
    assert.equal(
      backoff(0, o, null, () => 0.5),
      1000,
    );
    assert.equal(
      backoff(1, o, null, () => 0.5),
      2000,
    );
    assert.equal(
      backoff(5, o, null, () => 0.5),
      8000,
    );
    assert.equal(
      backoff(0, o, null, () => 0),
      800,
    );
    assert.equal(
      backoff(0, o, null, () => 1),
      1200,
    );
    assert.equal(
      backoff(0, o, '3', () => 0.5),
      3000,
    );
    assert.equal(
      backoff(0, o, '3600', () => 0.5),
      8000,
    );
  });
});
