import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DorisError } from '../../../src/errors.js';
import { canonicalName, isLoopbackHost, parseImageReference, registryBaseUrl, tryParseImageReference } from '../../../src/source/registry/reference.js';
import { globToRegExp, namePrefixOf, parseRulePattern, ruleRepository } from '../../../src/source/registry/rule.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  const table: Array<[string, { registry: string; apiHost: string; repository: string; tag?: string; digest?: string }]> = [
    ['nginx', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx' }],
    ['nginx:1.25', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.25' }],
    ['library/nginx:1.25', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.25' }],
    ['docker.io/nginx', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx' }],
    ['docker.io/library/nginx:1.25', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.25' }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx' }],
    ['registry-1.docker.io/acme/app:main', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'acme/app', tag: 'main' }],
    ['acme/app', { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'acme/app' }],
    ['ghcr.io/acme/solar-influx:main', { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'acme/solar-influx', tag: 'main' }],
    ['GHCR.IO/acme/app', { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'acme/app' }],
    ['localhost/app', { registry: 'localhost', apiHost: 'localhost', repository: 'app' }],
    ['localhost:5000/acme/app:v1', { registry: 'localhost:5000', apiHost: 'localhost:5000', repository: 'acme/app', tag: 'v1' }],
    ['127.0.0.1:5000/acme/solar-influx', { registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', repository: 'acme/solar-influx' }],
    ['[::1]:5000/app:v1', { registry: '[::1]:5000', apiHost: '[::1]:5000', repository: 'app', tag: 'v1' }],
    [`ghcr.io/acme/app:main@${digest}`, { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'acme/app', tag: 'main', digest }],
    [`ghcr.io/acme/app@${digest}`, { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'acme/app', digest }],
    ['quay.io/a/b/c:1.0-rc_1', { registry: 'quay.io', apiHost: 'quay.io', repository: 'a/b/c', tag: '1.0-rc_1' }],
  ];
  for (const [text, expected] of table) {
    it(`reads ${text}`, () => {
      assert.deepEqual(parseImageReference(text), expected);
    });
  }

  for (const bad of ['', 'image_url_var:', 'Acme/App', 'ghcr.io/acme/app:', 'ghcr.io/acme/app@sha256:short', 'ghcr.io//app', 'a:b:c']) {
    it(`refuses "${bad}" with an ImageResolveFailed error naming it`, () => {
      assert.throws(
        () => parseImageReference(bad),
        (error: unknown) => error instanceof DorisError && error.code === 'ImageResolveFailed' && error.message.includes(`"${bad}"`),
      );
      assert.equal(tryParseImageReference(bad), undefined);
    });
  }

  it('gives every spelling of a Docker Hub repository one canonical name', () => {
    const names = ['nginx', 'library/nginx', 'docker.io/nginx', 'index.docker.io/library/nginx:1', 'registry-1.docker.io/library/nginx'].map((t) =>
      canonicalName(parseImageReference(t)),
    );
    assert.deepEqual(new Set(names), new Set(['docker.io/library/nginx']));
  });
});

describe('registryBaseUrl', () => {
  it('uses plain http for loopback registries', () => {
    assert.equal(registryBaseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(registryBaseUrl('127.1.2.3:5000'), 'http://127.1.2.3:5000');
    assert.equal(registryBaseUrl('localhost:5000'), 'http://localhost:5000');
    assert.equal(registryBaseUrl('[::1]:5000'), 'http://[::1]:5000');
  });

  it('uses https for every other registry', () => {
    assert.equal(registryBaseUrl('ghcr.io'), 'https://ghcr.io');
    assert.equal(registryBaseUrl('registry-1.docker.io'), 'https://registry-1.docker.io');
    assert.equal(registryBaseUrl('10.0.0.5:5000'), 'https://10.0.0.5:5000');
    assert.equal(registryBaseUrl('localhost.example.com'), 'https://localhost.example.com');
  });

  it('uses plain http for a registry listed as insecure', () => {
    assert.equal(registryBaseUrl('10.0.0.5:5000', ['10.0.0.5:5000']), 'http://10.0.0.5:5000');
    assert.equal(registryBaseUrl('registry.lan', ['registry.lan:5000']), 'https://registry.lan');
  });

  it('recognises loopback hosts and nothing else', () => {
    assert.deepEqual(['127.0.0.1', '127.0.0.1:80', 'localhost', '[::1]:1', '128.0.0.1', '127.0.0.1.nip.io', 'localhost.localdomain'].map(isLoopbackHost), [
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('image rules', () => {
  it('treats * as any run of characters within one path segment', () => {
    const matcher = globToRegExp('acme/solar-*');
    assert.ok(matcher.test('acme/solar-influx'));
    assert.ok(matcher.test('acme/solar-'));
    assert.ok(!matcher.test('acme/solar-influx/extra'));
    assert.ok(!matcher.test('acme/lunar-influx'));
    assert.ok(!matcher.test('xacme/solar-influx'));
  });

  it('escapes regular-expression characters in the literal parts', () => {
    assert.ok(!globToRegExp('acme/a.b-*').test('acme/aXb-1'));
    assert.ok(globToRegExp('acme/a.b-?').test('acme/a.b-1'));
  });

  it('takes the literal start of the last segment as the name prefix', () => {
    assert.equal(namePrefixOf('acme/solar-*'), 'solar-');
    assert.equal(namePrefixOf('acme/*'), '');
    assert.equal(namePrefixOf('acme/solar-influx'), '');
    assert.equal(namePrefixOf('*/solar-*-x'), 'solar-');
  });

  it('parses a glob rule with its registry host', () => {
    const pattern = parseRulePattern('127.0.0.1:5000/acme/solar-*');
    assert.equal(pattern.glob, true);
    assert.equal(pattern.registry, '127.0.0.1:5000');
    assert.equal(pattern.path, 'acme/solar-*');
    assert.equal(pattern.namePrefix, 'solar-');
    assert.equal(ruleRepository(pattern, 'acme/solar-grafana'), '127.0.0.1:5000/acme/solar-grafana');
  });

  it('parses a plain repository rule, Docker Hub included', () => {
    const pattern = parseRulePattern('nginx');
    assert.deepEqual(
      [pattern.glob, pattern.registry, pattern.apiHost, pattern.path, pattern.namePrefix],
      [false, 'docker.io', 'registry-1.docker.io', 'library/nginx', ''],
    );
  });

  it('refuses a rule that carries a tag', () => {
    assert.throws(() => parseRulePattern('ghcr.io/acme/app:main'), /the tag goes in "tag"/);
  });
});
