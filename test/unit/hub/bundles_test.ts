/**
 * Building and storing bundles: the same tree gives the same bytes (whatever git stamps on
 * the archive and whenever it is built), anything but folders and regular files is refused
 * at the hub, an oversized wave folder is refused naming its size, and the store keeps one
 * immutable, owned, verified ConfigMap per digest. Real `git archive` on a local repository;
 * a plain-data fake stands in for the API server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BundleIntegrityError, BundleStore, buildBundle, bundleConfigMapName, bundleDigest, extractBundle } from '../../../src/hub/bundles.js';
import type { KubeClient, ObjectKey } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/render/types.js';
import { GitSource } from '../../../src/source/git.js';
import { writeTar } from '../../../src/hub/tar.js';
import { LocalRepo } from '../../fake/git-repo.js';

let scratch: string;
let repo: string;
let local: LocalRepo;
const commit = (files: Record<string, string | null>, date: string) => local.commit(files, date);
const git = (args: string[]) => local.git(args);

const source = () => new GitSource(repo, {}, { cacheDir: join(scratch, 'cache'), timeoutMs: 30_000 });

async function bundleOf(sha: string, path = 'deploy') {
  const s = source();
  await s.fetchCommit(sha, 'main');
  return buildBundle(await s.archive(sha, path), path);
}

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'doris-bundles-'));
  local = new LocalRepo(join(scratch, 'repo'), scratch);
  repo = local.dir;
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('buildBundle', () => {
  it('gives the same digest for the same tree: twice, and from another commit at another time', async () => {
    const first = commit({ 'deploy/1-app/10-a.yml': 'kind: A\n', 'deploy/1-app/20-b.yml': 'kind: B\n', 'README.md': 'one' }, '2020-01-01T00:00:00Z');
    const a = await bundleOf(first);
    const b = await bundleOf(first);
    assert.equal(a.digest, b.digest);
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.files, 2);
    // Only the README changed: the wave folder's tree is the same, so is the bundle.
    const second = commit({ 'README.md': 'two' }, '2024-06-01T12:00:00Z');
    assert.equal((await bundleOf(second)).digest, a.digest);
    // A change inside the folder is a new bundle.
    const third = commit({ 'deploy/1-app/20-b.yml': 'kind: C\n' }, '2024-06-02T12:00:00Z');
    assert.notEqual((await bundleOf(third)).digest, a.digest);
  });

  it('holds the folder itself, not the repository, and unpacks to it', async () => {
    const sha = commit({ 'deploy/2-db/10-db.yml': 'kind: DB\n' }, '2024-06-03T12:00:00Z');
    const bundle = await bundleOf(sha);
    const dir = join(scratch, 'unpacked');
    extractBundle(bundle.bytes, dir);
    assert.equal(readFileSync(join(dir, '2-db/10-db.yml'), 'utf8'), 'kind: DB\n');
    assert.equal(readFileSync(join(dir, '1-app/20-b.yml'), 'utf8'), 'kind: C\n');
  });

  it('ignores what git stamps on entries (time, owner): canonical bytes', () => {
    const entries = [{ path: 'a.yml', type: 'file' as const, executable: false, data: Buffer.from('a') }];
    const canonical = writeTar(entries);
    // The same entry as another tool would write it: a different mtime, uid and mode.
    const stamped = Buffer.from(canonical);
    stamped.write('12345670123\0', 136);
    stamped.write('0001750\0', 108);
    stamped.write('0000664\0', 100);
    stamped.fill(32, 148, 156);
    let sum = 0;
    for (const byte of stamped.subarray(0, 512)) sum += byte;
    stamped.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    assert.notDeepEqual(stamped, canonical);
    assert.equal(buildBundle(stamped, 'deploy').digest, buildBundle(canonical, 'deploy').digest);
  });

  it('refuses a symlink in the wave folder at the hub, naming it', async () => {
    mkdirSync(join(repo, 'deploy/3-link'), { recursive: true });
    symlinkSync('../../README.md', join(repo, 'deploy/3-link/10-readme.yml'));
    const sha = commit({}, '2024-06-04T12:00:00Z');
    await assert.rejects(bundleOf(sha), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BuildFailed');
      assert.match(error.message, /"3-link\/10-readme.yml" is a symlink/);
      return true;
    });
    rmSync(join(repo, 'deploy/3-link'), { recursive: true });
    commit({}, '2024-06-05T12:00:00Z');
  });

  it('refuses a path that is not a folder of the commit', async () => {
    const sha = git(['rev-parse', 'HEAD']);
    await assert.rejects(bundleOf(sha, 'nowhere'), /nowhere: folder does not exist in commit/);
    await assert.rejects(bundleOf(sha, 'README.md'), /README.md: folder does not exist in commit/);
  });

  it('stops git at the size limit: a huge folder is refused, never held whole', async () => {
    const sha = git(['rev-parse', 'HEAD']);
    const s = source();
    await s.fetchCommit(sha, 'main');
    await assert.rejects(s.archive(sha, 'deploy', 2048), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BuildFailed');
      assert.match(error.message, /^deploy: the folder's archive is larger than 2 KiB; refused$/);
      return true;
    });
  });

  it('the root folder is a path too', async () => {
    const sha = git(['rev-parse', 'HEAD']);
    assert.ok((await bundleOf(sha, '.')).files >= 3);
  });

  it('refuses a bundle over the limit, naming its size', () => {
    const random = randomBytes(200 * 1024);
    const tar = writeTar([{ path: 'big.yml', type: 'file', executable: false, data: random }]);
    const size = gzipSync(tar, { level: 9 }).length;
    assert.throws(
      () => buildBundle(tar, 'deploy', { maxBytes: 100 * 1024 }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BuildFailed');
        assert.match(error.message, new RegExp(`the wave folder deploy is \\d+ KiB compressed \\(${size} bytes\\); a bundle may be at most 100 KiB`));
        return true;
      },
    );
  });
});

/** A ConfigMap store over plain data, counting calls. */
function fakeClient() {
  const objects = new Map<string, KubeObject>();
  const calls = { get: 0, create: 0, patch: 0, delete: 0 };
  const client = {
    async get(key: ObjectKey) {
      calls.get++;
      const found = objects.get(key.name);
      return found ? structuredClone(found) : undefined;
    },
    async create(object: KubeObject) {
      calls.create++;
      if (objects.has(object.metadata.name)) throw new KubeApiError('POST', '/x', 409, undefined, 'exists');
      const stored = structuredClone(object);
      Object.assign(stored.metadata, { uid: `uid-${object.metadata.name}`, resourceVersion: '1' });
      objects.set(object.metadata.name, stored);
      return stored;
    },
    async mergePatch(key: ObjectKey, patch: { metadata: Record<string, unknown> }) {
      calls.patch++;
      const object = objects.get(key.name)!;
      Object.assign(object.metadata, patch.metadata, { resourceVersion: String(Number(object.metadata.resourceVersion) + 1) });
      return object;
    },
    async list(_apiVersion: string, _kind: string, options: { labelSelector?: string }) {
      const [key, value] = options.labelSelector!.split('=');
      return [...objects.values()].filter((o) => o.metadata.labels?.[key!] === value).map((o) => structuredClone(o));
    },
    async delete(key: ObjectKey, _policy: string, preconditions: { uid?: string; resourceVersion?: string }) {
      const object = objects.get(key.name);
      if (!object) return 'gone';
      if (preconditions.uid !== object.metadata.uid || preconditions.resourceVersion !== object.metadata.resourceVersion) {
        throw new KubeApiError('DELETE', '/x', 409, undefined, 'precondition failed');
      }
      calls.delete++;
      objects.delete(key.name);
      return 'gone';
    },
  } as unknown as KubeClient;
  return { client, objects, calls };
}

describe('BundleStore', () => {
  const bytes = gzipSync(writeTar([{ path: 'a.yml', type: 'file', executable: false, data: Buffer.from('a') }]));
  const bundle = { bytes, digest: bundleDigest(bytes) };

  it('stores an immutable ConfigMap owned by the Fleet, once', async () => {
    const { client, objects, calls } = fakeClient();
    const store = new BundleStore(client, 'hub');
    assert.equal(await store.put({ name: 'solar', uid: 'u1' }, bundle), true);
    assert.equal(await store.put({ name: 'solar', uid: 'u1' }, bundle), false);
    assert.equal(calls.create, 1);
    assert.equal(calls.patch, 0);
    const stored = objects.get(bundleConfigMapName(bundle.digest)) as unknown as {
      immutable: boolean;
      binaryData: { bundle: string };
      metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences: Array<{ kind: string; name: string; uid: string }> };
    };
    assert.equal(stored.metadata.name, `doris-bundle-${bundle.digest.slice(7, 47)}`);
    assert.equal(stored.metadata.namespace, 'hub');
    assert.equal(stored.immutable, true);
    assert.equal(stored.metadata.labels['hub.doris.dev/fleet'], 'solar');
    assert.deepEqual(
      stored.metadata.ownerReferences.map((o) => [o.kind, o.name, o.uid]),
      [['Fleet', 'solar', 'u1']],
    );
    assert.equal(bundleDigest(Buffer.from(stored.binaryData.bundle, 'base64')), bundle.digest);
    // A second Fleet with the same wave folder shares the bundle and becomes an owner.
    assert.equal(await store.put({ name: 'wind', uid: 'u2' }, bundle), false);
    assert.deepEqual(
      stored.metadata.ownerReferences.map((o) => o.uid),
      ['u1', 'u2'],
    );
  });

  it('refuses bytes that do not match the digest', async () => {
    const store = new BundleStore(fakeClient().client, 'hub');
    await assert.rejects(store.put({ name: 'f', uid: 'u' }, { bytes, digest: `sha256:${'0'.repeat(64)}` }), BundleIntegrityError);
  });

  it('get verifies what it reads, shares concurrent reads and caches', async () => {
    const { client, objects, calls } = fakeClient();
    await new BundleStore(client, 'hub').put({ name: 'f', uid: 'u' }, bundle);
    const store = new BundleStore(client, 'hub');
    const before = calls.get;
    const [a, b, c] = await Promise.all([store.get(bundle.digest), store.get(bundle.digest), store.get(bundle.digest)]);
    assert.deepEqual(a, bytes);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(calls.get - before, 1);
    await store.get(bundle.digest);
    assert.equal(calls.get - before, 1, 'served from memory');
    assert.equal(await store.get(`sha256:${'1'.repeat(64)}`), undefined);
    assert.equal(await store.get('../../secrets'), undefined);
    // Tampered bytes in the API server are never served.
    const stored = objects.get(bundleConfigMapName(bundle.digest)) as unknown as { binaryData: { bundle: string } };
    stored.binaryData.bundle = Buffer.from('evil').toString('base64');
    await assert.rejects(new BundleStore(client, 'hub').get(bundle.digest), BundleIntegrityError);
  });

  it('the memory cache is bounded by bytes, least recently used out', async () => {
    const { client, calls } = fakeClient();
    const writer = new BundleStore(client, 'hub');
    const digests: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const b = gzipSync(writeTar([{ path: name, type: 'file', executable: false, data: Buffer.from(name) }]));
      digests.push(bundleDigest(b));
      await writer.put({ name: 'f', uid: 'u' }, { bytes: b, digest: bundleDigest(b) });
    }
    const size = (await writer.get(digests[0]!))!.length;
    const store = new BundleStore(client, 'hub', { cacheBytes: 2 * size + 10 });
    await store.get(digests[0]!);
    await store.get(digests[1]!);
    await store.get(digests[0]!); // a is now the most recently used
    await store.get(digests[2]!); // evicts b
    const before = calls.get;
    await store.get(digests[0]!);
    await store.get(digests[2]!);
    assert.equal(calls.get, before, 'a and c cached');
    await store.get(digests[1]!);
    assert.equal(calls.get, before + 1, 'b was evicted');
  });

  it('collect deletes the bundles of the Fleet no revision keeps, never one another Fleet owns or that changed since listed', async () => {
    const { client, objects } = fakeClient();
    const store = new BundleStore(client, 'hub');
    const make = (name: string) => {
      const b = gzipSync(writeTar([{ path: name, type: 'file', executable: false, data: Buffer.from(name) }]));
      return { bytes: b, digest: bundleDigest(b) };
    };
    type Made = ReturnType<typeof make>;
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(make) as [Made, Made, Made, Made, Made];
    for (const x of [a, b, c, d]) await store.put({ name: 'f', uid: 'u1' }, x);
    await store.put({ name: 'g', uid: 'u2' }, c); // shared with g
    await store.put({ name: 'g', uid: 'u2' }, e); // g's own
    // d gains an owner between the list and the delete.
    const list = client.list.bind(client);
    (client as { list: typeof client.list }).list = async (...args) => {
      const listed = await list(...args);
      await store.put({ name: 'g', uid: 'u2' }, d);
      return listed;
    };
    assert.deepEqual(await store.collect({ name: 'f', uid: 'u1' }, new Set([a.digest])), [b.digest]);
    assert.deepEqual([...objects.keys()].sort(), [a, c, d, e].map((x) => bundleConfigMapName(x.digest)).sort());
    assert.equal(await store.get(b.digest), undefined, 'no longer served from memory either');
  });
});
