import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parsePipelineSpec } from '../../../src/api/pipeline.js';

const url = 'https://git.example.com/acme/edge.git';

/** Runs `fn`, expects it to throw, and returns the error message. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  assert.fail('expected an error');
}

describe('parsePipelineSpec', () => {
  it('fills in every default from a spec with only a git url', () => {
    assert.deepEqual(parsePipelineSpec({ git: { url } }), {
      git: { url, branch: 'main', path: 'deploy', interval: '1m' },
      images: [],
      prune: { enabled: true, allowMass: false, crds: false },
      wait: { timeout: '5m' },
      suspend: false,
      replay: 'latest',
      notify: [],
      kustomize: { allowRemote: false, allowPlugins: false },
    });
  });

  it('keeps values that are given', () => {
    const spec = parsePipelineSpec({
      git: { url, branch: 'release', path: 'clusters/edge', interval: '30s', secretRef: { name: 'git-token' } },
      images: [{ repository: 'ghcr.io/acme/solar-*', tag: 'stable', interval: '5m' }],
      prune: { enabled: false, allowMass: true, crds: true },
      wait: { timeout: '10m' },
      targetNamespace: 'apps',
      serviceAccountName: 'team-a',
      suspend: true,
      replay: 'each-commit',
      notify: [{ type: 'github', url: 'https://github.com/acme/fleet', secretRef: { name: 'gh' }, apiUrl: 'https://ghe.example/api/v3' }],
      kustomize: { allowRemote: true, allowPlugins: true },
      decryption: { provider: 'sops', secretRef: { name: 'sops-age' } },
    });
    assert.deepEqual(spec, {
      git: { url, branch: 'release', path: 'clusters/edge', interval: '30s', secretRef: { name: 'git-token' } },
      images: [{ repository: 'ghcr.io/acme/solar-*', tag: 'stable', interval: '5m' }],
      prune: { enabled: false, allowMass: true, crds: true },
      wait: { timeout: '10m' },
      targetNamespace: 'apps',
      serviceAccountName: 'team-a',
      suspend: true,
      replay: 'each-commit',
      notify: [{ type: 'github', url: 'https://github.com/acme/fleet', secretRef: { name: 'gh' }, apiUrl: 'https://ghe.example/api/v3' }],
      kustomize: { allowRemote: true, allowPlugins: true },
      decryption: { provider: 'sops', secretRef: { name: 'sops-age' } },
    });
  });

  it('defaults the tag and interval of an image rule', () => {
    const spec = parsePipelineSpec({ git: { url }, images: [{ repository: 'ghcr.io/acme/app' }] });
    assert.deepEqual(spec.images, [{ repository: 'ghcr.io/acme/app', tag: 'main', interval: '1m' }]);
  });

  it('refuses a zero interval or timeout, naming the field', () => {
    assert.throws(() => parsePipelineSpec({ git: { url, interval: '0s' } }), /spec\.git\.interval: a duration greater than zero/);
    assert.throws(() => parsePipelineSpec({ git: { url }, wait: { timeout: '0ms' } }), /spec\.wait\.timeout: a duration greater than zero/);
  });

  it('turns `prune: false` into {enabled: false, allowMass: false, crds: false}', () => {
    assert.deepEqual(parsePipelineSpec({ git: { url }, prune: false }).prune, { enabled: false, allowMass: false, crds: false });
  });

  it('turns `prune: true` into {enabled: true, allowMass: false, crds: false}', () => {
    assert.deepEqual(parsePipelineSpec({ git: { url }, prune: true }).prune, { enabled: true, allowMass: false, crds: false });
  });

  it('defaults the fields missing from a prune object', () => {
    assert.deepEqual(parsePipelineSpec({ git: { url }, prune: {} }).prune, { enabled: true, allowMass: false, crds: false });
    assert.deepEqual(parsePipelineSpec({ git: { url }, prune: { allowMass: true } }).prune, { enabled: true, allowMass: true, crds: false });
  });

  it('refuses a typo in the prune object, naming the field', () => {
    assert.throws(() => parsePipelineSpec({ git: { url }, prune: { allowmass: true } }), /spec\.prune: .*allowmass/i);
  });

  it('refuses repository URLs that would read the local disk or run programs', () => {
    for (const bad of ['file:///etc', '/srv/git/repo', 'ext::sh -c id', 'ftp://example.com/r.git', 'http://example.com/r.git']) {
      assert.throws(() => parsePipelineSpec({ git: { url: bad } }), /spec\.git\.url: an https:\/\/ or ssh:\/\/ URL/, bad);
    }
    for (const good of [
      'https://github.com/acme/edge.git',
      'ssh://git@github.com/acme/edge.git',
      'git@github.com:acme/edge.git',
      'http://127.0.0.1:8080/r.git',
    ]) {
      assert.equal(parsePipelineSpec({ git: { url: good } }).git?.url, good);
    }
  });

  it('refuses repository URLs whose host curl or git would read differently, naming the field and the character', () => {
    // WHATWG reads 127.0.0.1 (loopback, so plain http passes); curl reads 10.0.0.5 and sends the token there.
    assert.match(
      errorOf(() => parsePipelineSpec({ git: { url: 'http://127.0.0.1:1\\@10.0.0.5:80/repo.git' } })),
      /spec\.git\.url: a URL without backslashes, whitespace or control characters \(found "\\\\"\)/,
    );
    const refused: Record<string, RegExp> = {
      'http://localhost:1\\@10.0.0.5/repo.git': /without backslashes/,
      'https://github.com\\@evil.example/r.git': /without backslashes/,
      'ssh://git@github.com\\@evil.example/r.git': /without backslashes/,
      'git@github.com:acme\\edge.git': /without backslashes/,
      'https://github.com/acme/edge.git\n': /found "\\n"/,
      'https://github.com/a\u0000/r.git': /found "\\u0000"/,
      'https://github.com/\u00a0r.git': /without backslashes, whitespace/,
      'http://a@b@127.0.0.1/r.git': /at most one @/,
      'http://127.1/r.git': /a host written the way it is read \("127\.1" reads as "127\.0\.0\.1"\)/,
      'http://127.0.0.%31/r.git': /"127\.0\.0\.%31" reads as "127\.0\.0\.1"/,
      'http://[0::1]/r.git': /"\[0::1\]" reads as "\[::1\]"/,
      'https:///github.com/r.git': /a host written the way it is read/,
      'https:github.com/r.git': /a URL that starts https:\/\/host/,
      'ssh://git:hunter2@github.com/acme/edge.git': /an ssh:\/\/ URL without a password/,
    };
    for (const [bad, why] of Object.entries(refused)) {
      assert.match(
        errorOf(() => parsePipelineSpec({ git: { url: bad } })),
        new RegExp(`spec\\.git\\.url: .*${why.source}`),
        JSON.stringify(bad),
      );
    }
    for (const good of ['ssh://git@GitHub.com:22/acme/edge.git', 'http://[::1]:8080/r.git', 'https://dev.azure.com/org/My%20Project/_git/repo']) {
      assert.equal(parsePipelineSpec({ git: { url: good } }).git?.url, good);
    }
  });

  it('refuses a hub URL with a backslash or a rewritten host, naming spec.hub.url', () => {
    const hub = (url: string) => ({ hub: { url, fleet: 'edge', secretRef: { name: 'hub' } } });
    assert.match(
      errorOf(() => parsePipelineSpec(hub('http://127.0.0.1:1\\@10.0.0.5/'))),
      /spec\.hub\.url: a URL without backslashes/,
    );
    assert.match(
      errorOf(() => parsePipelineSpec(hub('https://hub.example.com/\t'))),
      /spec\.hub\.url: a URL without backslashes/,
    );
    assert.match(
      errorOf(() => parsePipelineSpec(hub('http://127.1:8080/'))),
      /spec\.hub\.url: a host written the way it is read/,
    );
    assert.equal(parsePipelineSpec(hub('https://hub.example.com')).hub?.url, 'https://hub.example.com');
  });

  it('refuses a ServiceAccount name that is not a Kubernetes name', () => {
    assert.throws(() => parsePipelineSpec({ git: { url }, serviceAccountName: '../admin' }), /spec\.serviceAccountName/);
  });

  it('defaults the timeout of an empty wait object', () => {
    assert.deepEqual(parsePipelineSpec({ git: { url }, wait: {} }).wait, { timeout: '5m' });
  });

  it('names git.url when it is missing', () => {
    assert.match(
      errorOf(() => parsePipelineSpec({ git: {} })),
      /^invalid Pipeline spec: .*spec\.git\.url: /,
    );
  });

  it('names git when there is no git section, and when there is no spec at all', () => {
    assert.match(
      errorOf(() => parsePipelineSpec({})),
      /spec\.git: /,
    );
    assert.match(
      errorOf(() => parsePipelineSpec(undefined)),
      /spec\.git: /,
    );
  });

  it('names the field of an invalid duration and says what a duration looks like', () => {
    const message = errorOf(() => parsePipelineSpec({ git: { url, interval: '5 minutes' } }));
    assert.match(message, /spec\.git\.interval: a duration such as 30s, 1m or 1h30m/);
    assert.match(
      errorOf(() => parsePipelineSpec({ git: { url }, wait: { timeout: '1.5h' } })),
      /spec\.wait\.timeout: /,
    );
    assert.match(
      errorOf(() => parsePipelineSpec({ git: { url }, images: [{ repository: 'r', interval: '10' }] })),
      /spec\.images\.0\.interval: /,
    );
  });

  it('names every invalid field, not only the first', () => {
    const message = errorOf(() => parsePipelineSpec({ git: { interval: 'soon' }, replay: 'sometimes' }));
    assert.match(message, /spec\.git\.url: /);
    assert.match(message, /spec\.git\.interval: /);
    assert.match(message, /spec\.replay: /);
  });

  it('refuses an empty branch and an unknown replay mode', () => {
    assert.match(
      errorOf(() => parsePipelineSpec({ git: { url, branch: '' } })),
      /spec\.git\.branch: /,
    );
    assert.match(
      errorOf(() => parsePipelineSpec({ git: { url }, replay: 'all' })),
      /spec\.replay: /,
    );
  });
});

describe('parseDuration', () => {
  it('adds up hours and minutes: 1h30m is 5400000 ms', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
  });

  it('reads milliseconds as ms, not minutes: 250ms is 250', () => {
    assert.equal(parseDuration('250ms'), 250);
  });

  it('reads seconds, minutes and hours', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1h1m1s1ms'), 3_661_001);
  });

  it('parses the default wait timeout', () => {
    assert.equal(parseDuration(parsePipelineSpec({ git: { url } }).wait.timeout), 300_000);
  });
});
