/**
 * SOPS-encrypted files in the render: recognising them, refusing what cannot be decrypted
 * (no key, no MAC, no age recipient), and keeping decrypted values out of every message. The
 * process is exercised with a stand-in `sops` (it proves the key travels in the environment and
 * the ciphertext on stdin); decryption and MAC checks with the real sops and a fresh age key are
 * in test/e2e/sops_test.ts.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RenderError } from '../../../src/render/errors.js';
import { renderRepo } from '../../../src/render/layout.js';
import { decryptSops, encryptedValues, looksEncrypted, maskValues, unsupportedSops } from '../../../src/render/sops.js';
import type { Problem } from '../../../src/render/types.js';
import { validateFolder } from '../../../src/render/validate.js';

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

const sopsMeta = (extra = ''): string =>
  `sops:\n  age:\n    - recipient: age1qqqq\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        x\n        -----END AGE ENCRYPTED FILE-----\n  lastmodified: "2026-12-01T00:00:00Z"\n  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]\n  version: 3.13.3\n${extra}`;
const encryptedSecret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: ENC[AES256_GCM,data:abcd,iv:aXY=,tag:dGFn,type:str]\n${sopsMeta()}`;

async function repo(files: Record<string, string>): Promise<string> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'doris-sops-')));
  temps.push(root);
  await mkdir(join(root, '.git'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** A stand-in for sops: reads stdin, then prints `plaintext` (or fails with `stderr`). */
async function standIn(plaintext: string, fail?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'doris-standin-'));
  temps.push(dir);
  const path = join(dir, 'sops');
  const body = fail
    ? `process.stdin.resume(); process.stdin.on('end', () => { process.stderr.write(${JSON.stringify(fail)}); process.exit(128); });`
    : `let input = ''; process.stdin.on('data', (c) => (input += c)); process.stdin.on('end', () => process.stdout.write(${JSON.stringify(plaintext)}.replace('STDIN_BYTES', String(input.length)).replace('ARGV', JSON.stringify(process.argv.slice(2))).replace('ENV_KEYS', Object.keys(process.env).sort().join(',')).replace('KEY_MATCHES', String(process.env.SOPS_AGE_KEY === 'AGE-SECRET-KEY-1TESTKEY'))));`;
  await writeFile(path, `#!${process.execPath}\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function renderProblems(root: string, options: Parameters<typeof renderRepo>[2]): Promise<Problem[]> {
  try {
    return (await renderRepo(root, 'deploy', options)).problems;
  } catch (error) {
    assert.ok(error instanceof RenderError, String(error));
    return error.problems;
  }
}

describe('recognising SOPS files', () => {
  it('a top-level sops: mapping marks a file as encrypted; a nested one or a value does not', () => {
    assert.equal(looksEncrypted(encryptedSecret), true);
    assert.equal(looksEncrypted('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  sops: yes\n'), false);
    assert.equal(looksEncrypted('apiVersion: v1\nkind: ConfigMap\nsops: plain value\n'), false);
    assert.equal(looksEncrypted('a: 1\nsops:   # metadata\n  mac: x\n'), true);
  });

  it('metadata without a MAC, or without an age recipient, is refused before decrypting', () => {
    assert.equal(unsupportedSops(encryptedSecret), undefined);
    assert.equal(unsupportedSops('a: ENC[x]\nsops:\n  age:\n    - recipient: age1q\n'), 'SOPS metadata has no MAC; refused (the file cannot be verified)');
    assert.equal(
      unsupportedSops('a: ENC[x]\nsops:\n  pgp:\n    - fp: ABC\n  mac: ENC[x]\n'),
      'SOPS file is not encrypted for an age recipient (it uses pgp); DORIS decrypts age only',
    );
    assert.equal(unsupportedSops('a: [\nsops:\n'), 'SOPS file is not valid YAML');
  });
});

describe('masking decrypted values', () => {
  it('collects the plaintext of every leaf that was ENC[...] and masks it, longest first', () => {
    const cipher = `a: ENC[1]\nb:\n  - ENC[2]\n  - plain\nc:\n  d: ENC[3]\nshort: ENC[4]\n${sopsMeta()}`;
    const plain = 'a: hunter2-secret\nb:\n  - hunter2-secret-longer\n  - plain\nc: {d: 12345}\nshort: abc\n';
    const values = encryptedValues(cipher, plain);
    assert.deepEqual(values, ['hunter2-secret-longer', 'hunter2-secret', '12345']);
    assert.equal(maskValues('x hunter2-secret-longer y hunter2-secret z 12345', values), 'x *** y *** z ***');
  });
});

describe('SOPS files in the render', () => {
  it('without a key: the sync fails naming the file; doris validate only warns', async () => {
    const root = await repo({
      'deploy/1-app/60-secret.yaml': encryptedSecret,
      'deploy/1-app/10-cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n',
    });
    const problems = await renderProblems(root, {});
    assert.deepEqual(
      problems.map((p) => `${p.file}: ${p.severity}: ${p.message}`),
      ['deploy/1-app/60-secret.yaml: error: SOPS-encrypted file and no age key to decrypt it (spec.decryption.secretRef, key age.agekey); nothing applied'],
    );
    const validate = await validateFolder(join(root, 'deploy'), { encryptedWithoutKey: 'warning' });
    assert.deepEqual(
      validate.problems.map((p) => `${p.file}: ${p.severity}: ${p.message}`),
      ['deploy/1-app/60-secret.yaml: warning: SOPS-encrypted (age): not decrypted without a key, so its objects are not checked here'],
    );
    assert.equal(validate.objects, 1);
  });

  it('with a key: sops gets the ciphertext on stdin and the key in its environment only, and its plaintext is parsed', async () => {
    const plaintext =
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seen\ndata:\n  stdinBytes: "STDIN_BYTES"\n  argv: \'ARGV\'\n  env: "ENV_KEYS"\n  key: "KEY_MATCHES"\n';
    const binary = await standIn(plaintext);
    const root = await repo({ 'deploy/1-app/60-secret.yaml': encryptedSecret });
    const saved = process.env.DORIS_GIT_TOKEN;
    process.env.DORIS_GIT_TOKEN = 'token-that-must-not-leak';
    try {
      const rendered = await renderRepo(root, 'deploy', { sops: { binary, ageKey: 'AGE-SECRET-KEY-1TESTKEY', timeoutMs: 10_000 } });
      const object = rendered.waves[0]!.steps[0]!.objects[0]!;
      assert.equal(object.source.file, 'deploy/1-app/60-secret.yaml');
      const data = object.object.data as Record<string, string>;
      assert.equal(data.stdinBytes, String(Buffer.byteLength(encryptedSecret)));
      assert.deepEqual(JSON.parse(data.argv!), ['decrypt', '--input-type', 'yaml', '--output-type', 'yaml']);
      assert.equal(data.env, 'HOME,SOPS_AGE_KEY,XDG_CONFIG_HOME');
      assert.equal(data.key, 'true');
    } finally {
      if (saved === undefined) delete process.env.DORIS_GIT_TOKEN;
      else process.env.DORIS_GIT_TOKEN = saved;
    }
  });

  it('a decrypted value never appears in a problem about the file', async () => {
    const cipher = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ENC[AES256_GCM,data:abcd,type:str]\n${sopsMeta()}`;
    const binary = await standIn('apiVersion: v1\nkind: Secret\nmetadata:\n  name: Top_Secret_Name\n');
    const root = await repo({ 'deploy/1-app/60-secret.yaml': cipher });
    const problems = await renderProblems(root, { sops: { binary, ageKey: 'AGE-SECRET-KEY-1TESTKEY', timeoutMs: 10_000 } });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.file, 'deploy/1-app/60-secret.yaml');
    assert.match(problems[0]!.message, /metadata\.name "\*\*\*" is not valid/);
    assert.ok(!JSON.stringify(problems).includes('Top_Secret_Name'));
  });

  it('a failed decryption (a MAC mismatch) names the file, with sops’s message and never a key', async () => {
    const binary = await standIn('', 'MAC mismatch. File has AB, computed CD\nkey was AGE-SECRET-KEY-1TESTKEY\n');
    const root = await repo({ 'deploy/1-app/60-secret.yaml': encryptedSecret });
    const problems = await renderProblems(root, { sops: { binary, ageKey: 'AGE-SECRET-KEY-1TESTKEY', timeoutMs: 10_000 } });
    assert.deepEqual(
      problems.map((p) => `${p.file}: ${p.message}`),
      ['deploy/1-app/60-secret.yaml: SOPS decryption failed: MAC mismatch. File has AB, computed CD key was ***'],
    );
  });

  it('sops not installed is said plainly', async () => {
    const result = await decryptSops(Buffer.from(encryptedSecret), { binary: '/nonexistent/sops', ageKey: 'AGE-SECRET-KEY-1X', timeoutMs: 1000 });
    assert.deepEqual(result, {
      ok: false,
      message: 'sops is not installed: "/nonexistent/sops" was not found (put sops on PATH, or give --sops-path or DORIS_SOPS_PATH)',
    });
  });
});
