import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DorisError } from '../../../src/errors.js';
import { credentialFor, parseDockerConfigJson, parseDockerConfigSecret, registryKey } from '../../../src/source/registry/credentials.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('dockerconfigjson credentials', () => {
  it('reads "auth" (base64 user:password), keeping colons in the password', () => {
    const set = parseDockerConfigJson(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('acme:pa:ss') } } }));
    assert.deepEqual(credentialFor(set, 'ghcr.io'), { username: 'acme', password: 'pa:ss' });
  });

  it('reads "username" and "password" when there is no "auth"', () => {
    const set = parseDockerConfigJson(JSON.stringify({ auths: { 'ghcr.io': { username: 'acme', password: 'secret' } } }));
    assert.deepEqual(credentialFor(set, 'ghcr.io'), { username: 'acme', password: 'secret' });
  });

  it('matches Docker Hub whatever spelling the key and the image use', () => {
    for (const key of ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io/v2/']) {
      const set = parseDockerConfigJson(JSON.stringify({ auths: { [key]: { auth: b64('hub:pw') } } }));
      for (const registry of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
        assert.deepEqual(credentialFor(set, registry), { username: 'hub', password: 'pw' }, `${key} for ${registry}`);
      }
    }
  });

  it('matches keys with a scheme, a path or upper case to the registry host', () => {
    const set = parseDockerConfigJson(
      JSON.stringify({ auths: { 'http://127.0.0.1:5000/v2/': { auth: b64('local:pw') }, 'https://GHCR.io': { auth: b64('gh:pw') } } }),
    );
    assert.equal(credentialFor(set, '127.0.0.1:5000')?.username, 'local');
    assert.equal(credentialFor(set, 'ghcr.io')?.username, 'gh');
  });

  it('does not match a registry on another port or host', () => {
    const set = parseDockerConfigJson(JSON.stringify({ auths: { '127.0.0.1:5000': { auth: b64('local:pw') } } }));
    assert.equal(credentialFor(set, '127.0.0.1:5001'), undefined);
    assert.equal(credentialFor(set, '127.0.0.1'), undefined);
    assert.equal(credentialFor(set, 'docker.io'), undefined);
  });

  it('reads the legacy dockercfg format (no "auths" wrapper)', () => {
    const set = parseDockerConfigJson(JSON.stringify({ 'quay.io': { auth: b64('q:pw') } }));
    assert.equal(credentialFor(set, 'quay.io')?.username, 'q');
  });

  it('skips entries without usable credentials', () => {
    const set = parseDockerConfigJson(JSON.stringify({ auths: { 'ghcr.io': { identitytoken: 'x' }, 'quay.io': { auth: b64('nocolon') } } }));
    assert.equal(set.size, 0);
  });

  it('reads a kubernetes.io/dockerconfigjson Secret', () => {
    const json = JSON.stringify({ auths: { 'ghcr.io': { auth: b64('acme:pw') } } });
    const set = parseDockerConfigSecret({ data: { '.dockerconfigjson': b64(json) } }, 'Secret doris-system/ghcr');
    assert.equal(credentialFor(set, 'ghcr.io')?.password, 'pw');
  });

  it('refuses malformed input without echoing its content', () => {
    const secretText = '{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl"}'; // truncated JSON holding a secret
    assert.throws(
      () => parseDockerConfigJson(secretText, 'creds.json'),
      (error: unknown) => error instanceof DorisError && error.message.startsWith('creds.json:') && !error.message.includes('c2VjcmV0'),
    );
    assert.throws(() => parseDockerConfigJson('[]'), /"auths"/);
    assert.throws(() => parseDockerConfigSecret({ data: {} }, 'Secret a/b'), /Secret a\/b: has no ".dockerconfigjson" key/);
  });

  it('reduces keys to registry names', () => {
    assert.deepEqual(['https://index.docker.io/v1/', 'http://127.0.0.1:5000/v2/', 'GHCR.IO', 'ghcr.io/acme'].map(registryKey), [
      'docker.io',
      '127.0.0.1:5000',
      'ghcr.io',
      'ghcr.io',
    ]);
  });
});
