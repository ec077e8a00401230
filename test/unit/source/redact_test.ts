import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redact } from '../../../src/source/git.js';

describe('redact: what git prints is logged and stored without credentials', () => {
  const cases: Array<[string, { token?: string }, string, string]> = [
    [
      'fatal: unable to access https://x-access-token:ghp_abc@github.com/a/b.git/',
      {},
      'fatal: unable to access https://***@github.com/a/b.git/',
      'https user and token',
    ],
    ['https://ghp_abc@github.com/a/b.git', {}, 'https://***@github.com/a/b.git', 'a token as the https user name'],
    ['ssh://git:hunter2@github.com/a/b.git', {}, 'ssh://git:***@github.com/a/b.git', 'an ssh password; the user name is kept'],
    ['SSH://deploy:p%40ss@host:2222/r.git and git+ssh://u:pw@h/r', {}, 'SSH://deploy:***@host:2222/r.git and git+ssh://u:***@h/r', 'any scheme, any case'],
    ['ssh://git@github.com/a/b.git', {}, 'ssh://git@github.com/a/b.git', 'an ssh user name alone is not a secret'],
    ['git@github.com:a/b.git', {}, 'git@github.com:a/b.git', 'scp-like form'],
    ['remote: bad credentials s3cr3t-token', { token: 's3cr3t-token' }, 'remote: bad credentials ***', 'the configured token anywhere'],
    ['key: -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----', {}, 'key: ***', 'a private key'],
  ];
  for (const [text, credentials, expected, why] of cases) {
    it(why, () => assert.equal(redact(text, credentials), expected));
  }
});
