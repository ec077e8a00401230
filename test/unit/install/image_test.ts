/**
 * The image: a supported Node LTS, base images pinned by digest, the pin script's logic (with
 * a stand-in `docker` that serves a canned multi-arch index: no registry is reachable here),
 * and the workflow that builds and pushes the multi-arch image on a tag.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const run = promisify(execFile);
/** A GitHub Actions expression, as the workflow writes it. */
const expression = (inner: string) => `$\{{ ${inner} }}`;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'doris-image-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** End of life of the Node LTS lines (nodejs.org release schedule). */
const ltsEnd: Record<number, string> = { 22: '2027-04-30', 24: '2028-04-30' };

/** The image references of the FROM lines (not earlier stages). */
function fromImages(text: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== 'FROM') continue;
    const image = words.slice(1).find((w) => !w.startsWith('--')) ?? '';
    if (!stages.has(image)) images.push(image);
    if (words.at(-2)?.toUpperCase() === 'AS') stages.add(words.at(-1) ?? '');
  }
  return images;
}

describe('Dockerfile', () => {
  it('runs a Node LTS line that is still maintained', () => {
    const nodes = fromImages(dockerfile).filter((i) => i.startsWith('node:'));
    assert.ok(nodes.length >= 1);
    for (const image of nodes) {
      const major = Number(/^node:(\d+)/.exec(image)?.[1]);
      assert.ok(ltsEnd[major], `${image}: not an LTS line`);
      assert.ok(Date.parse(ltsEnd[major] as string) > Date.now(), `${image}: Node ${major} is past its end of life`);
    }
  });

  it('pins every base image by digest, keeping the tag', () => {
    for (const image of fromImages(dockerfile)) assert.match(image, /^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/, image);
  });
});

describe('scripts/pin-base-image.sh (with a stand-in docker)', () => {
  const index = (platforms: string[]) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: platforms.map((p) => {
        const [os, architecture, variant] = p.split('/');
        return {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${'1'.repeat(64)}`,
          size: 1,
          platform: { architecture, os, ...(variant ? { variant } : {}) },
        };
      }),
    });

  /** A folder with a `docker` that answers `buildx version` and `buildx imagetools inspect --raw REF` from files. */
  function fakeDocker(manifests: Record<string, string>): string {
    const bin = join(work, `bin-${Math.random().toString(36).slice(2)}`);
    mkdirSync(bin);
    const store = join(bin, 'manifests');
    mkdirSync(store);
    for (const [ref, body] of Object.entries(manifests)) writeFileSync(join(store, ref.replace(/[/:@]/g, '_')), body);
    writeFileSync(
      join(bin, 'docker'),
      `#!/bin/sh\n[ "$1 $2" = "buildx version" ] && exit 0\nf="${store}/$(echo "$5" | tr '/:@' '___')"\n[ -f "$f" ] || { echo "not found: $5" >&2; exit 1; }\ncat "$f"\n`,
    );
    chmodSync(join(bin, 'docker'), 0o755);
    return bin;
  }

  async function script(bin: string, file: string, args: string[] = []) {
    try {
      const { stdout, stderr } = await run(join(root, 'scripts', 'pin-base-image.sh'), args, {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKERFILE: file },
      });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  }

  const both = index(['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7']);
  const digest = `sha256:${createHash('sha256').update(both).digest('hex')}`;

  it('--check refuses the PLACEHOLDER digest and unpinned images, naming them', async () => {
    const file = join(work, 'Dockerfile.placeholder');
    writeFileSync(file, `FROM --platform=$BUILDPLATFORM node:24-bookworm-slim@sha256:${'0'.repeat(64)} AS build\nFROM golang:1.26-bookworm\nFROM build\n`);
    const { code, out } = await script(fakeDocker({}), file, ['--check']);
    assert.equal(code, 1);
    assert.match(out, /FROM node:24-bookworm-slim still has the PLACEHOLDER digest/);
    assert.match(out, /FROM golang:1\.26-bookworm is not pinned by digest/);
  });

  it('pins each tag to the digest of its index, keeps everything else, and then --check passes', async () => {
    const file = join(work, 'Dockerfile.pin');
    const before = `# comment\nFROM --platform=$BUILDPLATFORM node:24-bookworm-slim@sha256:${'0'.repeat(64)} AS build\nRUN echo hi\nFROM node:24-bookworm-slim@sha256:${'0'.repeat(64)}\nCOPY --from=build /a /b\n`;
    writeFileSync(file, before);
    const bin = fakeDocker({ 'node:24-bookworm-slim': both, [`node:24-bookworm-slim@${digest}`]: both });
    const pinned = await script(bin, file);
    assert.equal(pinned.code, 0, pinned.out);
    assert.equal(readFileSync(file, 'utf8'), before.replaceAll(`sha256:${'0'.repeat(64)}`, digest));
    const checked = await script(bin, file, ['--check']);
    assert.equal(checked.code, 0, checked.out);
    assert.match(checked.out, new RegExp(`ok: node:24-bookworm-slim@${digest}`));
  });

  it('--check refuses a pin whose index lacks a platform we build', async () => {
    const amd64Only = index(['linux/amd64']);
    const only = `sha256:${createHash('sha256').update(amd64Only).digest('hex')}`;
    const file = join(work, 'Dockerfile.amd64');
    writeFileSync(file, `FROM node:24-bookworm-slim@${only}\n`);
    const { code, out } = await script(fakeDocker({ 'node:24-bookworm-slim': amd64Only, [`node:24-bookworm-slim@${only}`]: amd64Only }), file, ['--check']);
    assert.equal(code, 1);
    assert.match(out, /has no linux\/arm64 image/);
  });
});

describe('.github/workflows/image.yml', () => {
  const workflow = parse(readFileSync(join(root, '.github/workflows/image.yml'), 'utf8')) as {
    on: { push: { tags: string[] } };
    permissions: Record<string, string>;
    env: { PLATFORMS: string };
    jobs: { image: { steps: Array<{ uses?: string; run?: string; with?: Record<string, unknown> }> } };
  };
  const steps = workflow.jobs.image.steps;
  it('builds and pushes linux/amd64 and linux/arm64 to ghcr.io on a version tag', () => {
    assert.deepEqual(workflow.on.push.tags, ['v*.*.*']);
    assert.equal(workflow.permissions.packages, 'write');
    assert.deepEqual(workflow.env.PLATFORMS.split(','), ['linux/amd64', 'linux/arm64']);
    const uses = steps.map((s) => s.uses?.split('@')[0]);
    for (const action of ['docker/setup-qemu-action', 'docker/setup-buildx-action', 'docker/login-action', 'docker/build-push-action'])
      assert.ok(uses.includes(action), action);
    const login = steps.find((s) => s.uses?.startsWith('docker/login-action'));
    assert.equal(login?.with?.registry, 'ghcr.io');
    assert.equal(login?.with?.password, expression('secrets.GITHUB_TOKEN'));
    const build = steps.find((s) => s.uses?.startsWith('docker/build-push-action'));
    assert.equal(build?.with?.platforms, expression('env.PLATFORMS'));
  });
  it('checks the base image pins before it builds', () => {
    const check = steps.findIndex((s) => s.run?.includes('scripts/pin-base-image.sh --check'));
    const build = steps.findIndex((s) => s.uses?.startsWith('docker/build-push-action'));
    assert.ok(check >= 0 && check < build);
  });
});
