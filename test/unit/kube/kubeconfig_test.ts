import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fromKubeconfigFile, loadConnection } from '../../../src/kube/kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'doris-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [
        { name: 'other', context: { cluster: 'missing', user: 'u' } },
        { name: 'ctx', context: { cluster: 'c', user: 'u' } },
      ],
      'current-context': 'ctx',
    }),
  );
  return path;
}

describe('kubeconfig loading', () => {
  it('uses the current context: server, CA data and a bearer token', async () => {
    const c = await fromKubeconfigFile(kubeconfig('token', { token: 'abc' }, { 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }));
    assert.equal(c.server.toString(), 'https://127.0.0.1:6443/');
    assert.equal(String(c.tls.ca), 'CA PEM');
    assert.equal(c.tls.rejectUnauthorized, true);
    assert.equal(await c.authorization(), 'Bearer abc');
  });

  it('reads client certificates and token files relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    writeFileSync(join(dir, 'token.txt'), 'from-file\n');
    const c = await fromKubeconfigFile(kubeconfig('files', { 'client-certificate': 'client.crt', 'client-key': 'client.key', tokenFile: 'token.txt' }));
    assert.equal(String(c.tls.cert), 'CERT');
    assert.equal(String(c.tls.key), 'KEY');
    assert.equal(await c.authorization(), 'Bearer from-file');
  });

  it('supports basic auth and insecure-skip-tls-verify', async () => {
    const c = await fromKubeconfigFile(kubeconfig('basic', { username: 'a', password: 'b' }, { 'insecure-skip-tls-verify': true }));
    assert.equal(await c.authorization(), `Basic ${Buffer.from('a:b').toString('base64')}`);
    assert.equal(c.tls.rejectUnauthorized, false);
  });

  it('names the file and the context when the current context is missing', async () => {
    const path = join(dir, 'broken');
    writeFileSync(path, JSON.stringify({ contexts: [], 'current-context': 'nowhere' }));
    await assert.rejects(fromKubeconfigFile(path), /broken: current context nowhere not found/);
  });

  it('prefers an explicit file, then KUBECONFIG', async () => {
    const explicit = kubeconfig('explicit', { token: 'explicit' });
    const fromEnv = kubeconfig('env', { token: 'env' });
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `${join(dir, 'does-not-exist')}:${fromEnv}`;
    try {
      assert.equal(await (await loadConnection(explicit)).authorization(), 'Bearer explicit');
      assert.equal(await (await loadConnection()).authorization(), 'Bearer env');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
