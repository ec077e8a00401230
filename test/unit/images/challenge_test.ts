import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from '../../../src/source/registry/challenge.js';

describe('parseWwwAuthenticate', () => {
  it('reads a Docker Hub bearer challenge', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    ]);
  });

  it('reads a basic challenge', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="doris-testenv"'), [{ scheme: 'basic', params: { realm: 'doris-testenv' } }]);
  });

  it('reads several challenges in one header', () => {
    const challenges = parseWwwAuthenticate('Basic realm="a", Bearer realm="https://t.example/token", service="reg"');
    assert.deepEqual(challenges, [
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'reg' } },
    ]);
  });

  it('lower-cases scheme and parameter names but keeps values', () => {
    assert.deepEqual(parseWwwAuthenticate('BEARER Realm="https://T.example/Token",SERVICE=Reg'), [
      { scheme: 'bearer', params: { realm: 'https://T.example/Token', service: 'Reg' } },
    ]);
  });

  it('reads quoted values with commas, spaces and escapes', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="https://t/token",scope="repository:a/b:pull,push",error="insufficient \\"scope\\""');
    assert.equal(challenge?.params.scope, 'repository:a/b:pull,push');
    assert.equal(challenge?.params.error, 'insufficient "scope"');
  });

  it('reads a scheme without parameters followed by another challenge', () => {
    assert.deepEqual(parseWwwAuthenticate('Negotiate, Basic realm="x"'), [
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  it('returns nothing for an empty or junk header and never throws', () => {
    assert.deepEqual(parseWwwAuthenticate(''), []);
    for (const junk of ['"', '=,=', 'Bearer realm="unterminated', 'Basic abc==', ',,,', '@@@ Bearer realm=x']) {
      assert.doesNotThrow(() => parseWwwAuthenticate(junk));
    }
    assert.deepEqual(
      parseWwwAuthenticate('@@@ Bearer realm=x').find((c) => c.scheme === 'bearer'),
      { scheme: 'bearer', params: { realm: 'x' } },
    );
  });
});
