import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gitCredentialsFromFlags } from '../../../src/source/credentials.js';
import { GitSource } from '../../../src/source/git.js';
import { explainSshFailure, isSshUrl, openSshSession, sshHostOf } from '../../../src/source/ssh.js';

const scratch = mkdtempSync(join(tmpdir(), 'doris-ssh-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('ssh URLs', () => {
  const table: Array<[string, boolean, string]> = [
    ['ssh://git@github.com/acme/fleet.git', true, 'github.com'],
    ['ssh://git@127.0.0.1:2222/srv/git/x.git', true, '[127.0.0.1]:2222'],
    ['ssh://git@host:22/x.git', true, 'host'],
    ['git@github.com:acme/fleet.git', true, 'github.com'],
    ['github.com:acme/fleet.git', true, 'github.com'],
    ['https://github.com/acme/fleet.git', false, ''],
    ['http://127.0.0.1:8080/x.git', false, ''],
    ['/srv/git/x.git', false, ''],
    ['./a:b', false, ''],
  ];
  for (const [url, ssh, host] of table) {
    it(`${url}: ${ssh ? `ssh to ${host}` : 'not ssh'}`, () => {
      assert.equal(isSshUrl(url), ssh);
      if (ssh) assert.equal(sshHostOf(url), host);
    });
  }
});

describe('ssh failures explained', () => {
  const url = 'ssh://git@127.0.0.1:2222/srv/git/x.git';
  it('an unknown host key names the host', () => {
    const stderr = 'No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n';
    assert.match(explainSshFailure(stderr, url) ?? '', /^ssh: the host key of \[127\.0\.0\.1\]:2222 is not in known_hosts; refusing to connect/);
  });
  it('a changed host key names the host and the fingerprint the server sent', () => {
    const stderr = [
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      'The fingerprint for the ED25519 key sent by the remote host is',
      'SHA256:SG685zV9JF0TuU9IKOOlAP5WznfjUtRghiDku7cBqB0.',
      'Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.',
      'Host key verification failed.',
    ].join('\n');
    const message = explainSshFailure(stderr, url) ?? '';
    assert.match(message, /host key of \[127\.0\.0\.1\]:2222 has CHANGED/);
    assert.match(message, /the server sent SHA256:SG685zV9JF0TuU9IKOOlAP5WznfjUtRghiDku7cBqB0;/);
  });
  it('a refused identity', () => {
    assert.match(explainSshFailure('root@127.0.0.1: Permission denied (publickey).\n', url) ?? '', /\[127\.0\.0\.1\]:2222 refused the SSH identity/);
  });
  it('a key that is not one', () => {
    assert.match(explainSshFailure('Load key "/w/.ssh-x/identity": invalid format\n', url) ?? '', /not a usable private key/);
  });
  it('a uid without a passwd entry (a container user) is named', () => {
    assert.match(explainSshFailure('No user exists for uid 65532\n', url) ?? '', /ssh cannot run as uid 65532: the uid has no \/etc\/passwd entry/);
  });
  it("anything else keeps git's message", () => {
    assert.equal(explainSshFailure("fatal: '/srv/git/x.git' does not appear to be a git repository\n", url), undefined);
  });
});

describe('the key on disk', () => {
  it('is 0600 in a 0700 folder for the length of the session, then gone', () => {
    const session = openSshSession({ identity: 'KEY-MATERIAL', knownHosts: '[h]:1 ssh-ed25519 AAAA' }, scratch);
    const identity = session.env.DORIS_SSH_IDENTITY_FILE!;
    const knownHosts = session.env.DORIS_SSH_KNOWN_HOSTS_FILE!;
    assert.equal(statSync(identity).mode & 0o777, 0o600);
    assert.equal(statSync(knownHosts).mode & 0o777, 0o600);
    assert.equal(statSync(join(identity, '..')).mode & 0o777, 0o700);
    assert.equal(readFileSync(identity, 'utf8'), 'KEY-MATERIAL\n', 'OpenSSH needs the final newline');
    assert.equal(session.env.GIT_SSH_VARIANT, 'ssh');
    assert.match(session.env.GIT_SSH ?? '', /bin\/doris-git-ssh\.js$/);
    assert.ok(existsSync(session.env.GIT_SSH!));
    session.dispose();
    assert.equal(existsSync(join(identity, '..')), false);
  });

  it('a work folder ssh could not be told about safely is refused', () => {
    assert.throws(() => openSshSession({ identity: 'k', knownHosts: 'h' }, join(scratch, 'a b')), /without spaces/);
  });
});

describe('credentials', () => {
  it('--ssh-key-file without --known-hosts-file is refused', () => {
    assert.throws(() => gitCredentialsFromFlags(undefined, undefined, { keyFile: '/nonexistent' }), /go together/);
  });

  it('an ssh URL without an identity fails before git runs, saying what is needed', async () => {
    const source = new GitSource('git@127.0.0.1:x.git', {}, { cacheDir: join(scratch, 'git'), timeoutMs: 5000 });
    await assert.rejects(source.resolveBranch('main'), /needs an identity and known_hosts: a Secret with keys "identity" and "known_hosts"/);
  });
});
