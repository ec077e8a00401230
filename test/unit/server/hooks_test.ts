import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ruleMatches } from '../../../src/source/registry/index.js';
import { parseImageRule } from '../../../src/cli/target.js';
import { githubSignature, normalizeRepoUrl, parsePushEvent, verifyGithubSignature } from '../../../src/server/github.js';
import { parseRegistryEvents, verifyBearer } from '../../../src/server/registry-hook.js';

describe('GitHub push webhooks', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');

  it('accepts the HMAC-SHA256 signature of the exact body', () => {
    assert.equal(verifyGithubSignature('s3', body, githubSignature('s3', body)), true);
  });

  it('refuses a signature made with another secret, over another body, or missing', () => {
    assert.equal(verifyGithubSignature('s3', body, githubSignature('other', body)), false);
    assert.equal(verifyGithubSignature('s3', body, githubSignature('s3', Buffer.from('{}'))), false);
    assert.equal(verifyGithubSignature('s3', body, undefined), false);
    assert.equal(verifyGithubSignature('s3', body, githubSignature('s3', body).replace('sha256=', 'sha1=')), false);
  });

  it('reduces https, ssh and scp-like forms of one repository to the same key', () => {
    const forms = [
      'https://github.com/Acme/Fleet.git',
      'https://GitHub.com/Acme/Fleet/',
      'git@github.com:Acme/Fleet.git',
      'ssh://git@github.com/Acme/Fleet',
      'https://user:tok@github.com/Acme/Fleet.git',
    ];
    assert.deepEqual(new Set(forms.map(normalizeRepoUrl)), new Set(['github.com/Acme/Fleet']));
  });

  it('keeps the port of an http URL apart from its path', () => {
    assert.equal(normalizeRepoUrl('http://127.0.0.1:8080/fleet.git'), '127.0.0.1:8080/fleet');
  });

  it('reads the branch and repository URLs of a push, and nothing of other events', () => {
    const push = parsePushEvent({
      ref: 'refs/heads/release/1',
      after: 'abc',
      repository: { clone_url: 'https://github.com/a/b.git', ssh_url: 'git@github.com:a/b.git' },
    });
    assert.deepEqual(push, { branch: 'release/1', after: 'abc', repositories: ['https://github.com/a/b.git', 'git@github.com:a/b.git'] });
    assert.equal(parsePushEvent({ ref: 'refs/tags/v1', repository: {} }), undefined);
    assert.equal(parsePushEvent(null), undefined);
  });
});

describe('registry notifications', () => {
  it('accepts only the configured bearer token', () => {
    assert.equal(verifyBearer('tok', 'Bearer tok'), true);
    assert.equal(verifyBearer('tok', 'Bearer tok2'), false);
    assert.equal(verifyBearer('tok', 'Basic tok'), false);
    assert.equal(verifyBearer('tok', undefined), false);
  });

  it('keeps manifest pushes and drops blob pushes and pulls', () => {
    const images = parseRegistryEvents({
      events: [
        {
          action: 'push',
          target: { repository: 'acme/a', tag: 'main', digest: 'sha256:1', mediaType: 'application/vnd.oci.image.manifest.v1+json' },
          request: { host: 'reg:5000' },
        },
        { action: 'push', target: { repository: 'acme/a', digest: 'sha256:2', mediaType: 'application/octet-stream' } },
        { action: 'pull', target: { repository: 'acme/b', tag: 'main' } },
      ],
    });
    assert.deepEqual(images, [{ repository: 'reg:5000/acme/a', tag: 'main', digest: 'sha256:1' }]);
  });
});

describe('image rules', () => {
  it('matches notified repositories against globs within one path segment, on the same registry', () => {
    assert.ok(ruleMatches('reg:5000/acme/solar-*', 'reg:5000/acme/solar-influx'));
    assert.ok(!ruleMatches('reg:5000/acme/solar-*', 'reg:5000/acme/solar-x/y'));
    assert.ok(!ruleMatches('reg:5000/acme/solar-*', 'reg:5000/acme/lunar-x'));
    assert.ok(!ruleMatches('reg:5000/acme/solar-*', 'other:5000/acme/solar-influx'));
    assert.ok(ruleMatches('nginx', 'docker.io/library/nginx'));
  });

  it('splits a rule at the tag colon, not at a registry port', () => {
    assert.deepEqual(parseImageRule('127.0.0.1:5000/acme/solar-*:main'), { repository: '127.0.0.1:5000/acme/solar-*', tag: 'main' });
    assert.deepEqual(parseImageRule('127.0.0.1:5000/acme/app'), { repository: '127.0.0.1:5000/acme/app', tag: 'main' });
  });
});
