/** Registry credentials files: one that cannot serve the image rules is refused before anything is installed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BootstrapCheckError, readRegistryCredentials, ruleRegistry } from '../../../src/cli/bootstrap-checks.js';

const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

describe('bootstrap: registry credentials', () => {
  it('the registry of a rule, glob or not', () => {
    assert.equal(ruleRegistry('ghcr.io/acme/solar-*'), 'ghcr.io');
    assert.equal(ruleRegistry('127.0.0.1:5000/acme/app'), '127.0.0.1:5000');
    assert.equal(ruleRegistry('nginx'), 'docker.io');
  });

  it('takes a file with a password for each rule registry', () => {
    const text = JSON.stringify({ auths: { 'https://ghcr.io': { auth: auth('bot', 's3cret') } } });
    const set = readRegistryCredentials('ghcr.json', text, ['ghcr.io']);
    assert.deepEqual(set.get('ghcr.io'), { username: 'bot', password: 's3cret' });
  });

  const refusals: Array<{ name: string; text: string; registries: string[]; message: RegExp }> = [
    {
      name: 'Docker Desktop: credsStore, empty auths entry',
      text: JSON.stringify({ auths: { 'ghcr.io': {} }, credsStore: 'desktop' }),
      registries: ['ghcr.io'],
      message: /holds no password for ghcr\.io: it names a credential store \(credsStore: desktop\)/,
    },
    {
      name: 'credHelpers for the registry',
      text: JSON.stringify({ credHelpers: { 'ghcr.io': 'gh' } }),
      registries: ['ghcr.io'],
      message: /credHelpers for ghcr\.io/,
    },
    {
      name: 'credsStore and no rules: no password at all',
      text: JSON.stringify({ credsStore: 'osxkeychain' }),
      registries: [],
      message: /holds no password for any registry: .*credsStore: osxkeychain/,
    },
    {
      name: 'a password for another registry only',
      text: JSON.stringify({ auths: { 'docker.io': { auth: auth('u', 'p') } } }),
      registries: ['ghcr.io'],
      message: /holds no password for ghcr\.io: it has no "auths" entry/,
    },
    { name: 'not JSON', text: '{"auths": ', registries: ['ghcr.io'], message: /ghcr\.json: not valid JSON/ },
    { name: 'auths not a map', text: '{"auths": []}', registries: ['ghcr.io'], message: /"auths" must be a map/ },
  ];
  for (const { name, text, registries, message } of refusals) {
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => readRegistryCredentials('ghcr.json', text, registries),
        (error: unknown) => error instanceof BootstrapCheckError && message.test(error.message),
      );
    });
  }

  it('never puts a password in its message', () => {
    const text = JSON.stringify({ auths: { 'docker.io': { auth: auth('u', 'very-secret-password') } }, credsStore: 'desktop' });
    assert.throws(
      () => readRegistryCredentials('c.json', text, ['ghcr.io']),
      (error: unknown) =>
        !String((error as Error).message).includes('very-secret-password') && !String((error as Error).message).includes(auth('u', 'very-secret-password')),
    );
  });
});
