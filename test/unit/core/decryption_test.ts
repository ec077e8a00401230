/**
 * `spec.decryption`: the policy objects parse with their defaults, and the age key is read from
 * the named Secret (key `age.agekey`) or the sync fails with CredentialsFailed naming the Secret,
 * never the key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePipelineSpec } from '../../../src/api/pipeline.js';
import { DorisError } from '../../../src/errors.js';
import { decryptionKey } from '../../../src/source/decryption.js';
import { FakeKube } from '../../fake/kube.js';

const git = { url: 'https://example.com/r.git' };
const key = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';

function secret(data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age', namespace: 'doris-system' }, data };
}

describe('spec.kustomize and spec.decryption', () => {
  it('default to a closed kustomize policy and no decryption', () => {
    const spec = parsePipelineSpec({ git });
    assert.deepEqual(spec.kustomize, { allowRemote: false, allowPlugins: false });
    assert.equal(spec.decryption, undefined);
  });

  it('take Flux’s shape, and refuse unknown fields and providers', () => {
    const spec = parsePipelineSpec({ git, kustomize: { allowRemote: true }, decryption: { secretRef: { name: 'age' } } });
    assert.deepEqual(spec.kustomize, { allowRemote: true, allowPlugins: false });
    assert.deepEqual(spec.decryption, { provider: 'sops', secretRef: { name: 'age' } });
    assert.throws(() => parsePipelineSpec({ git, kustomize: { allowRemotes: true } }), /spec\.kustomize/);
    assert.throws(() => parsePipelineSpec({ git, decryption: { provider: 'vault', secretRef: { name: 'age' } } }), /spec\.decryption\.provider/);
    assert.throws(() => parsePipelineSpec({ git, decryption: {} }), /spec\.decryption\.secretRef/);
  });
});

describe('the decryption key', () => {
  const spec = parsePipelineSpec({ git, decryption: { secretRef: { name: 'age' } } });

  it('is read from the Secret’s age.agekey', async () => {
    const kube = new FakeKube();
    kube.seed(secret({ 'age.agekey': Buffer.from(`# created: today\n${key}\n`).toString('base64') }));
    assert.equal(await decryptionKey(spec, kube, 'doris-system'), `# created: today\n${key}`);
    assert.equal(await decryptionKey(parsePipelineSpec({ git }), kube, 'doris-system'), undefined, 'no spec.decryption: no key, no read');
  });

  it('a missing Secret, a missing key or a refused read is CredentialsFailed naming the Secret', async () => {
    const kube = new FakeKube();
    const failure = async (): Promise<DorisError> => {
      const error = await decryptionKey(spec, kube, 'doris-system').catch((e: unknown) => e);
      assert.ok(error instanceof DorisError);
      assert.equal(error.code, 'CredentialsFailed');
      assert.ok(!error.message.includes(key));
      return error;
    };
    assert.equal((await failure()).message, 'decryption key: Secret doris-system/age (spec.decryption.secretRef) not found');
    kube.seed(secret({ identity: Buffer.from(key).toString('base64') }));
    assert.equal((await failure()).message, 'decryption key: Secret doris-system/age (spec.decryption.secretRef) has no "age.agekey" key');
    kube.forbid = [{ verb: 'get', kind: 'Secret' }];
    assert.match((await failure()).message, /^decryption key: Secret doris-system\/age \(spec\.decryption\.secretRef\) could not be read: /);
  });
});
