import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HubRefusal } from '../../../src/hub/errors.js';
import { parseDeviceToken } from '../../../src/hub/protocol.js';
import { EnrollmentTokens, enrollmentSecretName, hashToken, newDeviceToken, tokenMatches } from '../../../src/hub/tokens.js';
import { HubFakeKube } from './hub_fake.js';

const ns = 'hub';

async function refusal(promise: Promise<unknown>): Promise<HubRefusal> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HubRefusal, `expected a HubRefusal, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('device tokens', () => {
  it('are <device>.<43 base64url characters> and parse back to the device', () => {
    const token = newDeviceToken('edge-17.site-a');
    assert.match(token, /^edge-17\.site-a\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(parseDeviceToken(token)?.device, 'edge-17.site-a');
    assert.notEqual(newDeviceToken('d'), newDeviceToken('d'));
  });

  it('are kept as sha256:<hex> and compared with that hash only', () => {
    const token = newDeviceToken('d1');
    const hash = hashToken(token);
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(tokenMatches(token, hash), true);
    assert.equal(tokenMatches(`${token}x`, hash), false);
    assert.equal(tokenMatches(newDeviceToken('d1'), hash), false);
    assert.equal(tokenMatches(token, ''), false);
    assert.equal(tokenMatches(token, 'sha256:short'), false);
  });

  it('refuses malformed tokens before any lookup', () => {
    for (const bad of ['', 'nodot', '.secret', 'dev.', 'UPPER.secret', '../x.secret', 'a/b.secret', `${'a'.repeat(300)}.${'b'.repeat(300)}`, '-dev.secret']) {
      assert.equal(parseDeviceToken(bad), undefined, bad);
    }
  });
});

describe('enrollment tokens', () => {
  it('are stored only as a hash, with the fleet, labels, expiry and uses', async () => {
    const kube = new HubFakeKube();
    const created = await new EnrollmentTokens(kube, ns).create({ fleet: 'f1', labels: { site: 'north' }, ttlMs: 3_600_000, uses: 2 });
    const stored = JSON.stringify([...kube.objects.values()]);
    assert.equal(stored.includes(created.token), false, 'the token itself is not stored');
    assert.equal(stored.includes(Buffer.from(created.token).toString('base64')), false, 'nor base64-encoded');
    const secret = kube.objects.get(`Secret/${ns}/${enrollmentSecretName(created.token)}`) as unknown as {
      data: Record<string, string>;
      metadata: { labels: Record<string, string> };
    };
    assert.equal(Buffer.from(secret.data.tokenHash!, 'base64').toString(), hashToken(created.token));
    assert.equal(secret.metadata.labels['hub.doris.dev/enrollment-token'], 'true');
    assert.equal(created.usesLeft, 2);
  });

  it('grants the labels and spends one use each time; refuses once used up', async () => {
    const kube = new HubFakeKube();
    const tokens = new EnrollmentTokens(kube, ns);
    const { token } = await tokens.create({ fleet: 'f1', labels: { site: 'north' }, ttlMs: 60_000, uses: 2 });
    assert.deepEqual(await tokens.consume(token, 'f1'), { labels: { site: 'north' } });
    await tokens.consume(token, 'f1');
    const used = await refusal(tokens.consume(token, 'f1'));
    assert.equal(used.status, 401);
    assert.match(used.message, /used up/);
  });

  it('refuses an expired token, a token of another fleet (403) and an unknown token', async () => {
    let now = Date.parse('2026-12-01T12:00:00Z');
    const kube = new HubFakeKube();
    const tokens = new EnrollmentTokens(kube, ns, () => now);
    const { token } = await tokens.create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 5 });
    const other = await refusal(tokens.consume(token, 'f2'));
    assert.equal(other.status, 403);
    assert.match(other.message, /for Fleet f1, not f2/);
    // Another last character (a random token ends in 'A' one time in 64).
    const unknown = await refusal(tokens.consume(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, 'f1'));
    assert.equal(unknown.status, 401);
    assert.match(unknown.message, /unknown enrollment token/);
    now += 60_000;
    const expired = await refusal(tokens.consume(token, 'f1'));
    assert.equal(expired.status, 401);
    assert.match(expired.message, /expired at 2026-12-01T12:01:00.000Z/);
  });

  it('lets only one of two racing enrollments spend the last use (resourceVersion precondition)', async () => {
    const kube = new HubFakeKube();
    const tokens = new EnrollmentTokens(kube, ns);
    const { token } = await tokens.create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 1 });
    const results = await Promise.allSettled([tokens.consume(token, 'f1'), tokens.consume(token, 'f1'), tokens.consume(token, 'f1')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((r) => r.status === 'rejected')) assert.match(String((r as PromiseRejectedResult).reason.message), /used up/);
  });

  it('gives a spent use back, without losing a use spent concurrently; nothing for a token deleted meanwhile', async () => {
    const kube = new HubFakeKube();
    const tokens = new EnrollmentTokens(kube, ns);
    const { token } = await tokens.create({ fleet: 'f1', labels: {}, ttlMs: 60_000, uses: 2 });
    await tokens.consume(token, 'f1');
    const key = `Secret/${ns}/${enrollmentSecretName(token)}`;
    const usesLeft = () => Number(Buffer.from((kube.objects.get(key) as unknown as { data: { usesLeft: string } }).data.usesLeft, 'base64').toString());
    // Another replica spends the other use between the give-back's read and its write.
    let raced = false;
    kube.beforeWrite = (verb) => {
      if (verb !== 'PUT' || raced) return;
      raced = true;
      const stored = kube.objects.get(key) as unknown as { data: Record<string, string> };
      kube.seed({ ...stored, data: { ...stored.data, usesLeft: Buffer.from('0').toString('base64') } } as unknown as Parameters<HubFakeKube['seed']>[0]);
    };
    assert.equal(await tokens.giveBack(token), true);
    kube.beforeWrite = () => undefined;
    assert.equal(usesLeft(), 1, 'two uses, two spent, one given back');
    await kube.delete({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: enrollmentSecretName(token) });
    assert.equal(await tokens.giveBack(token), false);
  });

  it('refuses a Secret with the right name that is not an enrollment token', async () => {
    const kube = new HubFakeKube();
    const token = 'x'.repeat(43);
    kube.seed({ apiVersion: 'v1', kind: 'Secret', metadata: { name: enrollmentSecretName(token), namespace: ns }, data: { tokenHash: '' } });
    assert.equal((await refusal(new EnrollmentTokens(kube, ns).consume(token, 'f1'))).status, 401);
  });
});
