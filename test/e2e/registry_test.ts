/**
 * The registry client against real servers on loopback: the test environment's registry
 * (Debian's docker-registry, htpasswd basic auth, images pushed with skopeo, behind a front
 * that refuses `/v2/_catalog` as GHCR does), and a small bearer-token registry written here
 * (a token service plus the manifest endpoint, no catalog, like Docker Hub), which also plays
 * a registry that fails, rate-limits or omits digest headers. The image tracker (what a
 * Pipeline's rules resolve to, kept and unresolved digests) is tested against the latter.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { PipelineSpec } from '../../src/api/pipeline.js';
import type { DesiredObject, KubeObject } from '../../src/render/types.js';
import { ImageTracker } from '../../src/source/images.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/source/registry/client.js';
import { parseDockerConfigJson, type RegistryCredentialSet } from '../../src/source/registry/credentials.js';
import { ImageResolveError } from '../../src/source/registry/errors.js';
import type { RetryEvent } from '../../src/source/registry/retry.js';
import { waitFor } from '../env/proc.js';
import { loadTestEnv, pushTestImage, type TestEnv } from '../env/testenv.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const dockerConfig = (registry: string, username: string, password: string): RegistryCredentialSet =>
  parseDockerConfigJson(JSON.stringify({ auths: { [registry]: { auth: b64(`${username}:${password}`) } } }));

/** Catches the rejection of `promise`, failing when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<ImageResolveError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImageResolveError, `expected an ImageResolveError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('registry client against the real registry (basic auth)', () => {
  let env: TestEnv;
  let credentials: RegistryCredentialSet;
  // A namespace of our own in the registry, so that every run starts from repositories no one pushed.
  const org = `acme-${process.pid}-${Date.now().toString(36)}`;

  before(() => {
    env = loadTestEnv();
    credentials = dockerConfig(env.REGISTRY, env.REGISTRY_USERNAME, env.REGISTRY_PASSWORD);
  });

  it('resolves a tag to the digest that was pushed', async () => {
    const pushed = await pushTestImage(env, `${org}/solar-influx`, 'main', `influx v1 ${org}`);
    const client = new RegistryClient(credentials);
    assert.equal(await client.resolveDigest(`${env.REGISTRY}/${org}/solar-influx`, 'main'), pushed);
  });

  it('resolves the new digest once new content is pushed under the same tag', async () => {
    const client = new RegistryClient(credentials);
    const image = `${env.REGISTRY}/${org}/solar-roll`;
    const first = await pushTestImage(env, `${org}/solar-roll`, 'main', `roll v1 ${org}`);
    assert.equal(await client.resolveDigest(image, 'main'), first);
    const second = await pushTestImage(env, `${org}/solar-roll`, 'main', `roll v2 ${org}`);
    assert.notEqual(second, first);
    assert.equal(await client.resolveDigest(image, 'main'), second);
  });

  it('refuses to list its repositories at /v2/_catalog, as GHCR does', async () => {
    const auth = `Basic ${b64(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`)}`;
    const catalog = await fetch(`http://${env.REGISTRY}/v2/_catalog?n=10`, { headers: { authorization: auth } });
    assert.equal(catalog.status, 404);
    // ... while the rest of the API answers through the same address.
    assert.equal((await fetch(`http://${env.REGISTRY}/v2/`, { headers: { authorization: auth } })).status, 200);
  });

  it('resolves the repositories of a glob rule among those it is given, never asking for the catalog', async () => {
    await pushTestImage(env, `${org}/solar-influx`, 'main', `influx v1 ${org}`);
    await pushTestImage(env, `${org}/lunar-influx`, 'main', `lunar ${org}`);
    const client = new RegistryClient(credentials);
    const rule = { repository: `${env.REGISTRY}/${org}/solar-*`, tag: 'main' };
    const named = [`${env.REGISTRY}/${org}/solar-influx`, `${env.REGISTRY}/${org}/lunar-influx`, `${env.REGISTRY}/${org}/solar-grafana`];
    const logMark = readFileSync(env.REGISTRY_LOG).length;

    const before = await client.resolveRule(rule, named);
    assert.deepEqual(
      before.resolved.map((i) => i.repository),
      [`${env.REGISTRY}/${org}/solar-influx`],
    );
    assert.deepEqual(
      before.failed.map((f) => [f.repository, f.error.status]),
      [[`${env.REGISTRY}/${org}/solar-grafana`, 404]],
      'not pushed yet',
    );

    const grafana = await pushTestImage(env, `${org}/solar-grafana`, 'main', `grafana ${org}`);
    const afterPush = await client.resolveRule(rule, named);
    assert.deepEqual(afterPush.failed, []);
    assert.deepEqual(
      afterPush.resolved.find((i) => i.repository === `${env.REGISTRY}/${org}/solar-grafana`),
      { repository: `${env.REGISTRY}/${org}/solar-grafana`, tag: 'main', namePrefix: 'solar-', digest: grafana },
    );
    assert.ok(!afterPush.resolved.some((i) => i.repository.includes('lunar')));
    assert.ok(!readFileSync(env.REGISTRY_LOG).subarray(logMark).toString('utf8').includes('/v2/_catalog'), 'the catalog was asked for');
  });

  it('resolves nothing for a glob rule that is given no repositories', async () => {
    const result = await new RegistryClient(credentials).resolveRule({ repository: `${env.REGISTRY}/${org}/solar-*`, tag: 'main' });
    assert.deepEqual(result, { resolved: [], failed: [] });
  });

  it('reports a repository of a glob whose tag is missing as failed, and resolves the others', async () => {
    await pushTestImage(env, `${org}/partial-a`, 'main', `a ${org}`);
    await pushTestImage(env, `${org}/partial-b`, 'other', `b ${org}`);
    const named = [`${env.REGISTRY}/${org}/partial-a`, `${env.REGISTRY}/${org}/partial-b`];
    const result = await new RegistryClient(credentials).resolveRule({ repository: `${env.REGISTRY}/${org}/partial-*`, tag: 'main' }, named);
    assert.deepEqual(
      result.resolved.map((i) => i.repository),
      [`${env.REGISTRY}/${org}/partial-a`],
    );
    assert.deepEqual(
      result.failed.map((f) => [f.repository, f.error.status]),
      [[`${env.REGISTRY}/${org}/partial-b`, 404]],
    );
  });

  it('refuses a wrong password with a clear 401 that never shows the password', async () => {
    await pushTestImage(env, `${org}/solar-influx`, 'main', `influx v1 ${org}`);
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const client = new RegistryClient(dockerConfig(env.REGISTRY, env.REGISTRY_USERNAME, wrong), { maxRetries: 0 });
    const error = await rejection(client.resolveDigest(`${env.REGISTRY}/${org}/solar-influx`, 'main'));
    assert.equal(error.code, 'ImageResolveFailed');
    assert.equal(error.status, 401);
    assert.match(error.message, new RegExp(`^image ${env.REGISTRY}/${org}/solar-influx:main: .*401`));
    for (const secret of [wrong, b64(`${env.REGISTRY_USERNAME}:${wrong}`), env.REGISTRY_PASSWORD]) {
      assert.ok(!error.message.includes(secret), 'the message holds a credential');
      assert.ok(!JSON.stringify(error).includes(secret), 'the error holds a credential');
    }
  });

  it('says that credentials are missing when none are configured for the registry', async () => {
    const client = new RegistryClient(dockerConfig('ghcr.io', 'x', 'y'));
    const error = await rejection(client.resolveDigest(`${env.REGISTRY}/${org}/solar-influx`, 'main'));
    assert.equal(error.status, 401);
    assert.match(error.message, new RegExp(`none are configured for ${env.REGISTRY.replace(/\./g, '\\.')}`));
  });

  it('answers a tag that does not exist with 404', async () => {
    await pushTestImage(env, `${org}/solar-influx`, 'main', `influx v1 ${org}`);
    const error = await rejection(new RegistryClient(credentials).resolveDigest(`${env.REGISTRY}/${org}/solar-influx`, 'no-such-tag'));
    assert.equal(error.status, 404);
    assert.match(error.message, /404: no such repository or tag/);
  });

  it('sends only HEAD requests for manifests, one per check in the steady state', async () => {
    await pushTestImage(env, `${org}/solar-steady`, 'main', `steady ${org}`);
    const userAgent = `doris-test-${randomBytes(6).toString('hex')}`;
    const client = new RegistryClient(credentials, { userAgent });
    const checks = 5;
    for (let i = 0; i < checks; i += 1) await client.resolveDigest(`${env.REGISTRY}/${org}/solar-steady`, 'main');

    // The access log line of a request is written when its response completes: wait for all of them.
    const accessLines = () =>
      readFileSync(env.REGISTRY_LOG, 'utf8')
        .split('\n')
        .filter((line) => line.includes(`"${userAgent}"`) && /^\S+ - \S+ \[/.test(line));
    const lines = await waitFor(
      'the registry access log of our requests',
      () => {
        const found = accessLines();
        return found.length >= checks + 1 ? found : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const requests = lines.map((line) => /"(\w+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line)?.slice(1, 4));
    assert.ok(
      requests.every((r) => r !== undefined && r[1]!.includes('/manifests/')),
      lines.join('\n'),
    );
    assert.deepEqual(new Set(requests.map((r) => r![0])), new Set(['HEAD']));
    // The first check learns the registry's challenge (one 401); every later check is one HEAD.
    assert.deepEqual(
      requests.map((r) => r![2]),
      ['401', ...Array<string>(checks).fill('200')],
    );
  });
});

/**
 * A bearer-token registry on loopback. Tokens are issued by `/token` to `robot`/`s3cret`
 * (anonymously for `public/*`), and are valid for the scope they were issued for. Every
 * repository exists (its manifest is derived from its name) except those under `missing/`;
 * like GHCR it serves no catalog (404).
 */
interface FakeRegistry {
  url: string;
  host: string;
  tokenRequests: Array<{ scope: string; service: string | null; authorization: string | undefined }>;
  requests: Array<{ method: string; path: string; authorization: string | undefined }>;
  /** Per repository: answers to send before the real one (status and headers). */
  failures: Map<string, Array<{ status: number; headers?: Record<string, string> }>>;
  close(): Promise<void>;
}

const manifestOf = (repository: string): string => JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', repository });
const digestOf = (repository: string): string => `sha256:${createHash('sha256').update(manifestOf(repository)).digest('hex')}`;

async function startFakeRegistry(): Promise<FakeRegistry> {
  const issued = new Map<string, string>(); // token → scope
  const fake: Omit<FakeRegistry, 'url' | 'host' | 'close'> = { tokenRequests: [], requests: [], failures: new Map() };
  let base = '';
  const challenge = (res: ServerResponse, scope: string) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="fake-registry",scope="${scope}"` });
    res.end();
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      fake.tokenRequests.push({ scope, service: url.searchParams.get('service'), authorization: req.headers.authorization });
      const robot = req.headers.authorization === `Basic ${b64('robot:s3cret')}`;
      if (!robot && !scope.startsWith('repository:public/')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      const token = `tok-${randomBytes(8).toString('hex')}`;
      issued.set(token, scope);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, expires_in: 300, issued_at: '2001-01-01T00:00:00Z' }));
      return;
    }
    fake.requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (!manifest) {
      res.writeHead(404);
      res.end();
      return;
    }
    const repository = manifest[1]!;
    const scope = `repository:${repository}:pull`;
    if (repository.startsWith('missing/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
      return;
    }
    if (!bearer || issued.get(bearer) !== scope) return challenge(res, scope);
    const failure = fake.failures.get(repository)?.shift();
    if (failure) {
      res.writeHead(failure.status, failure.headers);
      res.end();
      return;
    }
    if (!String(req.headers.accept).includes('application/vnd.oci.image.index.v1+json')) {
      res.writeHead(406);
      res.end();
      return;
    }
    const body = manifestOf(repository);
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(Buffer.byteLength(body)) };
    if (!repository.startsWith('nodigest/')) headers['docker-content-digest'] = digestOf(repository);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const host = `127.0.0.1:${port}`;
  base = `http://${host}`;
  return {
    ...fake,
    url: base,
    host,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('registry client against a bearer-token registry (loopback fake)', () => {
  let fake: FakeRegistry;
  let robot: RegistryCredentialSet;
  const fast: Partial<RegistryClientOptions> = { initialBackoffMs: 5, maxBackoffMs: 20 };

  before(async () => {
    fake = await startFakeRegistry();
    robot = dockerConfig(`http://${fake.host}/v2/`, 'robot', 's3cret');
  });
  after(async () => {
    await fake.close();
  });

  const reset = () => {
    fake.tokenRequests.length = 0;
    fake.requests.length = 0;
    fake.failures.clear();
  };

  it('obtains a token once for a repository and reuses it for every later check', async () => {
    reset();
    const client = new RegistryClient(robot, fast);
    for (let i = 0; i < 4; i += 1) assert.equal(await client.resolveDigest(`${fake.host}/fake/one`, 'main'), digestOf('fake/one'));
    assert.deepEqual(
      fake.tokenRequests.map((t) => [t.scope, t.service, t.authorization]),
      [['repository:fake/one:pull', 'fake-registry', `Basic ${b64('robot:s3cret')}`]],
    );
    assert.deepEqual(
      fake.requests.map((r) => r.method),
      ['HEAD', 'HEAD', 'HEAD', 'HEAD', 'HEAD'],
    );
    assert.equal(fake.requests[0]!.authorization, undefined);
    assert.ok(fake.requests.slice(1).every((r) => r.authorization === fake.requests[1]!.authorization && r.authorization?.startsWith('Bearer tok-')));
  });

  it('gets a token per scope, without another 401 round trip once the challenge is known', async () => {
    reset();
    const client = new RegistryClient(robot, fast);
    await client.resolveDigest(`${fake.host}/fake/one`, 'main');
    await client.resolveDigest(`${fake.host}/fake/solar-a`, 'main');
    assert.deepEqual(
      fake.tokenRequests.map((t) => t.scope),
      ['repository:fake/one:pull', 'repository:fake/solar-a:pull'],
    );
    assert.deepEqual(
      fake.requests.map((r) => r.authorization === undefined),
      [true, false, false],
    );
  });

  it('gets a new token once the cached one is about to expire', async () => {
    reset();
    let now = 1_000_000;
    const client = new RegistryClient(robot, { ...fast, clock: () => now });
    await client.resolveDigest(`${fake.host}/fake/one`, 'main');
    now += 200_000; // 200 s of a 300 s token: still good
    await client.resolveDigest(`${fake.host}/fake/one`, 'main');
    assert.equal(fake.tokenRequests.length, 1);
    now += 80_000; // 280 s: within the last 10%
    await client.resolveDigest(`${fake.host}/fake/one`, 'main');
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('asks for a token anonymously when it has no credentials for the registry', async () => {
    reset();
    const client = new RegistryClient(undefined, fast);
    assert.equal(await client.resolveDigest(`${fake.host}/public/app`, 'main'), digestOf('public/app'));
    assert.deepEqual(
      fake.tokenRequests.map((t) => t.authorization),
      [undefined],
    );
  });

  it('refuses a wrong credential at the token service with a clear 401 that never shows it', async () => {
    reset();
    const wrong = `nope-${randomBytes(8).toString('hex')}`;
    const client = new RegistryClient(dockerConfig(fake.host, 'robot', wrong), fast);
    const error = await rejection(client.resolveDigest(`${fake.host}/fake/one`, 'main'));
    assert.equal(error.code, 'ImageResolveFailed');
    assert.equal(error.status, 401);
    assert.equal(error.message, `image ${fake.host}/fake/one:main: the token service ${fake.host} answered 401: the registry credentials were refused`);
    assert.ok(!JSON.stringify({ ...error, message: error.message }).includes(wrong));
  });

  it('retries 500 answers with backoff and resolves once the registry recovers', async () => {
    reset();
    const retries: RetryEvent[] = [];
    const client = new RegistryClient(robot, { ...fast, maxRetries: 3, onRetry: (e) => retries.push(e) });
    fake.failures.set('fake/one', [{ status: 500 }, { status: 500 }]);
    assert.equal(await client.resolveDigest(`${fake.host}/fake/one`, 'main'), digestOf('fake/one'));
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.status]),
      [
        [1, 500],
        [2, 500],
      ],
    );
    assert.ok(
      retries.every((r) => r.delayMs >= 2 && r.delayMs <= 20),
      JSON.stringify(retries),
    );
    assert.deepEqual(
      fake.requests.filter((r) => r.authorization).map((r) => r.method),
      ['HEAD', 'HEAD', 'HEAD'],
    );
  });

  it('gives up after its retries with an error naming the image and the status', async () => {
    reset();
    const client = new RegistryClient(robot, { ...fast, maxRetries: 2 });
    await client.resolveDigest(`${fake.host}/fake/one`, 'main'); // token in hand
    fake.failures.set(
      'fake/one',
      Array.from({ length: 5 }, () => ({ status: 503 })),
    );
    const before = fake.requests.length;
    const error = await rejection(client.resolveDigest(`${fake.host}/fake/one`, 'main'));
    assert.equal(error.status, 503);
    assert.equal(error.message, `image ${fake.host}/fake/one:main: the registry answered 503 (3 attempts)`);
    assert.equal(fake.requests.length - before, 3);
  });

  it('waits as long as Retry-After says', async () => {
    reset();
    const retries: RetryEvent[] = [];
    const client = new RegistryClient(robot, { ...fast, onRetry: (e) => retries.push(e) });
    fake.failures.set('fake/one', [{ status: 429, headers: { 'retry-after': '1' } }]);
    const started = Date.now();
    assert.equal(await client.resolveDigest(`${fake.host}/fake/one`, 'main'), digestOf('fake/one'));
    assert.deepEqual(
      retries.map((r) => [r.status, r.delayMs]),
      [[429, 1000]],
    );
    assert.ok(Date.now() - started >= 1000, 'resolved before Retry-After passed');
  });

  it('stops at once when Retry-After is longer than it is willing to wait', async () => {
    reset();
    const client = new RegistryClient(robot, { ...fast, maxRetryAfterMs: 5_000 });
    fake.failures.set('fake/one', [{ status: 429, headers: { 'retry-after': '120' } }]);
    const error = await rejection(client.resolveDigest(`${fake.host}/fake/one`, 'main'));
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 120_000);
    assert.match(error.message, /asked to retry after 120 s/);
    assert.equal(fake.requests.filter((r) => r.authorization).length, 1);
  });

  it('reports a registry that is down after its retries, without a status', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const retries: RetryEvent[] = [];
    const client = new RegistryClient(robot, { ...fast, maxRetries: 2, onRetry: (e) => retries.push(e) });
    const error = await rejection(client.resolveDigest(`127.0.0.1:${port}/fake/one`, 'main'));
    assert.equal(error.status, undefined);
    assert.equal(error.message, `image 127.0.0.1:${port}/fake/one:main: could not reach the registry (ECONNREFUSED) (3 attempts)`);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.status]),
      [
        [1, undefined],
        [2, undefined],
      ],
    );
  });

  it('computes the digest from the manifest when the registry sends no Docker-Content-Digest', async () => {
    reset();
    const client = new RegistryClient(robot, fast);
    assert.equal(await client.resolveDigest(`${fake.host}/nodigest/app`, 'main'), digestOf('nodigest/app'));
    assert.deepEqual(
      fake.requests.filter((r) => r.authorization).map((r) => r.method),
      ['HEAD', 'GET'],
    );
  });

  it('resolves a glob rule over the repositories it is given, one token per repository, never asking for the catalog', async () => {
    reset();
    const client = new RegistryClient(robot, fast);
    const named = ['fake/solar-a', 'fake/solar-b', 'other/solar-x', 'fake/one'].map((r) => `${fake.host}/${r}`);
    const result = await client.resolveRule({ repository: `${fake.host}/fake/solar-*`, tag: 'main' }, named);
    assert.deepEqual(
      result.resolved.map((i) => [i.repository, i.namePrefix, i.digest]),
      ['fake/solar-a', 'fake/solar-b'].map((r) => [`${fake.host}/${r}`, 'solar-', digestOf(r)]),
    );
    assert.deepEqual(result.failed, []);
    assert.deepEqual(fake.tokenRequests.map((t) => t.scope).sort(), ['repository:fake/solar-a:pull', 'repository:fake/solar-b:pull']);
    assert.ok(fake.requests.every((r) => r.path !== '/v2/_catalog'));
  });

  it('reports each repository of a glob rule as failed when the credentials are refused', async () => {
    reset();
    const client = new RegistryClient(dockerConfig(fake.host, 'robot', 'wrong'), fast);
    const result = await client.resolveRule({ repository: `${fake.host}/fake/solar-*`, tag: 'main' }, [`${fake.host}/fake/solar-a`]);
    assert.deepEqual(result.resolved, []);
    assert.deepEqual(
      result.failed.map((f) => [f.repository, f.error.status]),
      [[`${fake.host}/fake/solar-a`, 401]],
    );
    assert.match(result.failed[0]!.error.message, new RegExp(`^image ${fake.host}/fake/solar-a:main: `));
  });
});

describe("image tracker (a Pipeline's rules) against a bearer-token registry (loopback fake)", () => {
  let fake: FakeRegistry;
  const creds = async () => dockerConfig(fake.host, 'robot', 's3cret');
  const options = { client: { initialBackoffMs: 5, maxBackoffMs: 20, maxRetries: 0 } };
  const rule = (repository: string): PipelineSpec['images'][number] => ({ repository: `${fake.host}/${repository}`, tag: 'main', interval: '1m' });

  before(async () => {
    fake = await startFakeRegistry();
  });
  after(async () => {
    await fake.close();
  });

  /** A rendered Deployment whose one container runs `image`, with `app` as its app label. */
  const workload = (name: string, image: string, app = name): DesiredObject => ({
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'solar', labels: { app } },
      spec: { template: { metadata: { labels: { app } }, spec: { containers: [{ name, image }] } } },
    } as KubeObject,
    wave: 1,
    waveName: '1-app',
    step: 170,
    source: { file: `deploy/1-app/170-${name}.yml`, line: 1, col: 1 },
  });

  it("tracks, for a glob, the images the rendered manifests name at its tag and the placeholders' images, and polls the same ones without a render", async () => {
    fake.requests.length = 0;
    const tracker = new ImageTracker(creds, options);
    const rendered = [
      workload('a', `${fake.host}/fake/solar-a:main`),
      workload('b', `${fake.host}/fake/solar-b:v2`), // another tag: not this rule's
      workload('x', `${fake.host}/other/solar-x:main`), // outside the glob
      workload('c', 'image_url_var', 'c'), // the glob's prefix and the app label: fake/solar-c
      workload('pinned', `${fake.host}/fake/solar-d:main@${digestOf('fake/solar-d')}`),
    ];
    const rules = [rule('fake/solar-*')];
    const first = await tracker.resolve(rules, [], undefined, { rendered });
    assert.deepEqual(
      first.images.map((i) => [i.repository, i.digest]),
      [
        [`${fake.host}/fake/solar-a`, digestOf('fake/solar-a')],
        [`${fake.host}/fake/solar-c`, digestOf('fake/solar-c')],
      ],
    );
    assert.deepEqual([...first.tracked.keys()], [`${fake.host}/fake/solar-a`, `${fake.host}/fake/solar-c`]);
    assert.deepEqual(
      first.changes.map((c) => [c.repository, c.from, c.to]),
      [
        [`${fake.host}/fake/solar-a`, undefined, digestOf('fake/solar-a')],
        [`${fake.host}/fake/solar-c`, undefined, digestOf('fake/solar-c')],
      ],
    );
    assert.deepEqual([first.kept, first.unresolved, first.errors], [[], [], []]);

    // The image poller: no render, the same repositories, nothing changed.
    const poll = await tracker.resolve(rules, first.images);
    assert.deepEqual(poll.images, first.images);
    assert.deepEqual(poll.changes, []);
    // After a restart (a new tracker), the Pipeline's status says what to poll.
    const restarted = await new ImageTracker(creds, options).resolve(rules, first.images);
    assert.deepEqual(
      restarted.images.map((i) => i.repository),
      first.images.map((i) => i.repository),
    );
    assert.ok(fake.requests.every((r) => r.path !== '/v2/_catalog'));
  });

  it('reports an image never resolved as unresolved (no digest, applied as written), not as a kept digest', async () => {
    const tracker = new ImageTracker(creds, options);
    const rendered = [workload('gone', `${fake.host}/missing/solar-gone:main`)];
    const result = await tracker.resolve([rule('missing/solar-*')], [], undefined, { rendered });
    assert.deepEqual(result.kept, []);
    assert.deepEqual(
      result.unresolved.map((f) => [f.rule, f.repository, f.tag]),
      [[`${fake.host}/missing/solar-*:main`, `${fake.host}/missing/solar-gone`, 'main']],
    );
    assert.match(result.unresolved[0]!.error, /404/);
    assert.deepEqual(result.errors, [result.unresolved[0]!.error], 'errors still lists every failure');
    assert.equal(result.images[0]?.digest, undefined);
    assert.match(result.images[0]?.error ?? '', /404/);
    assert.deepEqual(result.tracked.get(`${fake.host}/missing/solar-gone`), { tag: 'main', namePrefix: 'solar-', error: result.unresolved[0]!.error });
    assert.deepEqual(result.changes, []);
  });

  it('keeps the last known digest of an image the registry fails to resolve, and says so', async () => {
    const tracker = new ImageTracker(creds, options);
    const rules = [rule('fake/one')];
    const good = await tracker.resolve(rules, []);
    assert.deepEqual(good.unresolved, []);
    fake.failures.set('fake/one', [{ status: 503 }]);
    const failing = await tracker.resolve(rules, good.images);
    assert.deepEqual(failing.unresolved, []);
    assert.deepEqual(
      failing.kept.map((f) => [f.repository, f.tag]),
      [[`${fake.host}/fake/one`, 'main']],
    );
    assert.match(failing.kept[0]!.error, /503/);
    assert.equal(failing.tracked.get(`${fake.host}/fake/one`)?.digest, digestOf('fake/one'), 'the last digest stays in use');
    assert.equal(failing.images[0]?.digest, digestOf('fake/one'));
    assert.deepEqual(failing.changes, []);
  });

  it('reports a plain rule that cannot be resolved on its first poll as unresolved, without a render', async () => {
    const result = await new ImageTracker(creds, options).resolve([rule('missing/app')], []);
    assert.deepEqual(
      result.unresolved.map((f) => f.repository),
      [`${fake.host}/missing/app`],
    );
  });
});
