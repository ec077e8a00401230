import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gitEnvironment } from '../../../src/source/git.js';

const token = 'ghp_s3cr3tT0ken';
const basicOf = (text: string): string => Buffer.from(text).toString('base64');

describe('gitEnvironment', () => {
  it('sets no GIT_CONFIG_* header without a token', () => {
    for (const env of [gitEnvironment(), gitEnvironment({}), gitEnvironment({ username: 'robot' })]) {
      assert.deepEqual(
        Object.keys(env).filter((k) => k.startsWith('GIT_CONFIG_') && k !== 'GIT_CONFIG_NOSYSTEM'),
        [],
      );
    }
  });

  it('never prompts and ignores the system git config', () => {
    const env = gitEnvironment({ token });
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.equal(env.GIT_CONFIG_NOSYSTEM, '1');
  });

  it('passes a token as a basic-auth header with the default username git', () => {
    const env = gitEnvironment({ token });
    assert.equal(env.GIT_CONFIG_COUNT, '2');
    assert.equal(env.GIT_CONFIG_KEY_0, 'http.extraHeader');
    assert.equal(env.GIT_CONFIG_VALUE_0, `Authorization: Basic ${basicOf(`git:${token}`)}`);
  });

  it('refuses redirects, so the header never reaches another host', () => {
    const env = gitEnvironment({ token });
    assert.equal(env.GIT_CONFIG_KEY_1, 'http.followRedirects');
    assert.equal(env.GIT_CONFIG_VALUE_1, 'false');
  });

  it('uses the given username in the basic-auth header', () => {
    const env = gitEnvironment({ username: 'robot', token });
    assert.equal(env.GIT_CONFIG_VALUE_0, `Authorization: Basic ${basicOf(`robot:${token}`)}`);
  });

  it('falls back to the username git for an empty username', () => {
    const env = gitEnvironment({ username: '', token });
    assert.equal(env.GIT_CONFIG_VALUE_0, `Authorization: Basic ${basicOf(`git:${token}`)}`);
  });

  it('puts the token, plain or encoded, in no other variable', () => {
    const env = gitEnvironment({ username: 'robot', token });
    const leaks = Object.entries(env)
      .filter(([key]) => key !== 'GIT_CONFIG_VALUE_0')
      .filter(([, value]) => value !== undefined && (value.includes(token) || value.includes(basicOf(`robot:${token}`))));
    assert.deepEqual(leaks, []);
    assert.ok(!env.GIT_CONFIG_VALUE_0?.includes(token), 'the header carries the token only base64-encoded');
  });

  it('does not inherit credentials from the controller environment', () => {
    const saved = process.env.DORIS_GIT_TOKEN;
    process.env.DORIS_GIT_TOKEN = token;
    try {
      const env = gitEnvironment();
      assert.equal(env.DORIS_GIT_TOKEN, undefined);
      assert.ok(Object.values(env).every((value) => !value?.includes(token)));
    } finally {
      if (saved === undefined) delete process.env.DORIS_GIT_TOKEN;
      else process.env.DORIS_GIT_TOKEN = saved;
    }
  });
});
