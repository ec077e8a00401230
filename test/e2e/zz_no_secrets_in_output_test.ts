/**
 * Runs last (files run in name order, one at a time): everything DORIS printed during the
 * suite — CLI output and controller logs, collected by test/env/doris.ts — must contain none
 * of the environment's tokens and passwords, in plain or in basic-auth form.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { outputLog, syncInline } from '../env/doris.js';
import { createRepo, loadTestEnv } from '../env/testenv.js';

describe('secrets in DORIS output', () => {
  it('never prints a token, a password or an authorization header', async () => {
    const env = loadTestEnv();
    // One more sync with every credential in play, so the check never runs on an empty log.
    const { url } = await createRepo(env, 'secrets', {
      'deploy/1-a/120-cm.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: secrets-check\ndata:\n  a: "1"\n',
    });
    const result = await syncInline(env, `secrets-${process.pid}`, url, ['--image-rule', `${env.REGISTRY}/acme/none-*:main`]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(outputLog(env)));
    const output = readFileSync(outputLog(env), 'utf8');
    const basic = (user: string, secret: string) => Buffer.from(`${user}:${secret}`).toString('base64');
    const secrets = {
      'git token': env.GIT_TOKEN,
      'git basic auth': basic(env.GIT_USERNAME, env.GIT_TOKEN),
      'git basic auth (default user)': basic('git', env.GIT_TOKEN),
      'registry password': env.REGISTRY_PASSWORD,
      'registry basic auth': basic(env.REGISTRY_USERNAME, env.REGISTRY_PASSWORD),
      'registry notification token': env.REGISTRY_NOTIFY_TOKEN,
    };
    for (const [what, value] of Object.entries(secrets)) assert.ok(!output.includes(value), `the ${what} appears in DORIS output`);
    assert.doesNotMatch(output, /whsec-\d+-/, 'a webhook secret appears in DORIS output');
    assert.doesNotMatch(output, /eyJhbGciOi[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'a service-account token appears in DORIS output');
    assert.doesNotMatch(output, /authorization:\s*(basic|bearer)\s+\S/i, 'an authorization header appears in DORIS output');
    console.log(`checked ${output.length} bytes of DORIS output`);
  });
});
