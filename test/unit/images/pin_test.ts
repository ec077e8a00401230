import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DorisError } from '../../../src/errors.js';
import { RenderError } from '../../../src/render/errors.js';
import { containersOf, imageNames, pinImages, podTemplatePath, type TrackedImages } from '../../../src/render/images.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';
import { byName, loadFixture } from './fixture.js';

const influxDigest = `sha256:${'1a'.repeat(32)}`;
const nginxDigest = `sha256:${'2b'.repeat(32)}`;
const tokenDigest = `sha256:${'3c'.repeat(32)}`;
const grafanaDigest = `sha256:${'4d'.repeat(32)}`;

const tracked: TrackedImages = new Map([
  ['127.0.0.1:5000/acme/solar-influx', { tag: 'main', digest: influxDigest, namePrefix: 'solar-' }],
  ['nginx', { tag: 'latest', digest: nginxDigest }],
]);

const placeholderImages: TrackedImages = new Map([
  ['127.0.0.1:5000/acme/solar-influxcreatetoken', { tag: 'main', digest: tokenDigest, namePrefix: 'solar-' }],
  ['127.0.0.1:5000/acme/solar-grafana', { tag: 'main', digest: grafanaDigest, namePrefix: 'solar-' }],
]);

const images = (object: KubeObject): string[] => {
  const path = podTemplatePath(object) ?? [];
  let pod: unknown = object;
  for (const key of path) pod = (pod as Record<string, unknown>)[key];
  return containersOf(pod as Parameters<typeof containersOf>[0]).map((c) => `${c.name}=${c.image}`);
};

const pinnedInflux = `127.0.0.1:5000/acme/solar-influx:main@${influxDigest}`;

describe('pinImages', () => {
  const objects = loadFixture('workloads.yaml');
  const pinned = pinImages(objects, tracked);

  const cases: Array<[string, string, string[]]> = [
    ['Deployment', 'influxdb', [`migrate=${pinnedInflux}`, `influx=${pinnedInflux}`, 'sidecar=docker.io/library/busybox:1.36']],
    ['StatefulSet', 'influx-ha', [`influx=${pinnedInflux}`]],
    ['DaemonSet', 'collector', [`collector=${pinnedInflux}`]],
    ['ReplicaSet', 'influx-rs', [`influx=${pinnedInflux}`]],
    ['Job', 'create-token', [`wait=${pinnedInflux}`, `create=nginx:latest@${nginxDigest}`]],
    ['CronJob', 'backup', [`backup=${pinnedInflux}`]],
    ['Pod', 'debug', [`debug=${pinnedInflux}`]],
  ];
  for (const [kind, name, expected] of cases) {
    it(`pins the tracked images of a ${kind}, initContainers included`, () => {
      assert.deepEqual(images(byName(pinned, kind, name)), expected);
    });
  }

  it('pins a Docker Hub image written in another spelling than its rule, keeping how it is written', () => {
    const [out] = pinImages(
      loadFixture('workloads.yaml').filter((d) => d.object.kind === 'Job'),
      new Map([['docker.io/library/nginx', { tag: 'latest', digest: nginxDigest }]]),
    );
    assert.ok(images(out!.object).includes(`create=nginx:latest@${nginxDigest}`));
  });

  it('leaves fields of objects that are not workloads alone', () => {
    assert.equal(
      byName(pinned, 'ConfigMap', 'not-a-workload').data && (byName(pinned, 'ConfigMap', 'not-a-workload').data as Record<string, string>).image,
      '127.0.0.1:5000/acme/solar-influx:main',
    );
  });

  it('never modifies its input', () => {
    const before = structuredClone(objects);
    pinImages(objects, tracked);
    assert.deepEqual(objects, before);
    assert.equal(images(byName(objects, 'Deployment', 'influxdb'))[1], 'influx=127.0.0.1:5000/acme/solar-influx:main');
  });

  it('leaves pinned images, other tags and untracked images as they are (same objects)', () => {
    const untouched = loadFixture('untouched.yaml');
    const out = pinImages(untouched, tracked);
    for (const [i, d] of out.entries()) assert.equal(d, untouched[i], d.object.metadata.name);
  });

  it('gives the same result for the same digests, and a new one for a new digest', () => {
    const again = pinImages(loadFixture('workloads.yaml'), tracked);
    assert.deepEqual(
      again.map((d) => d.object),
      pinned.map((d) => d.object),
    );
    const newDigest = `sha256:${'9f'.repeat(32)}`;
    const rolled = pinImages(
      loadFixture('workloads.yaml'),
      new Map([...tracked, ['127.0.0.1:5000/acme/solar-influx', { tag: 'main', digest: newDigest, namePrefix: 'solar-' }]]),
    );
    assert.deepEqual(images(byName(rolled, 'StatefulSet', 'influx-ha')), [`influx=127.0.0.1:5000/acme/solar-influx:main@${newDigest}`]);
  });
});

describe('image_url_var placeholders', () => {
  it('resolves to the tracked image named like the workload app label without the rule prefix', () => {
    const out = pinImages(loadFixture('placeholder.yaml'), placeholderImages);
    assert.deepEqual(images(byName(out, 'Job', 'create-influx-secret')), [`createinfluxtoken=127.0.0.1:5000/acme/solar-influxcreatetoken:main@${tokenDigest}`]);
  });

  it('resolves an app label on the pod template that is the full image name', () => {
    const out = pinImages(loadFixture('placeholder.yaml'), placeholderImages);
    assert.deepEqual(images(byName(out, 'Deployment', 'grafana')), [`grafana=127.0.0.1:5000/acme/solar-grafana:main@${grafanaDigest}`]);
  });

  it('fails the render naming file:line:col, the object and the label when nothing matches', () => {
    let caught: unknown;
    try {
      pinImages(loadFixture('placeholder-nomatch.yaml'), placeholderImages);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof RenderError);
    assert.ok(caught instanceof DorisError);
    assert.equal(caught.code, 'BuildFailed');
    assert.match(caught.message, /^testdata\/images\/placeholder-nomatch\.yaml:6:1: Deployment monitoring\/telegraf, container "telegraf": /);
    assert.match(caught.message, /"telegraf"/);
    assert.match(caught.message, /tracked: grafana, influxcreatetoken/);
    assert.match(caught.message, /spec\.images/);
  });

  it('fails when the workload has no app label', () => {
    const [deployment] = loadFixture('placeholder-nomatch.yaml').filter((d) => d.object.kind === 'Deployment') as [DesiredObject];
    const object = structuredClone(deployment.object);
    (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels = {};
    assert.throws(() => pinImages([{ ...deployment, object }], placeholderImages), /needs an "app" label/);
  });

  it('fails when the label matches several tracked images', () => {
    const ambiguous: TrackedImages = new Map([
      ['127.0.0.1:5000/acme/solar-grafana', { tag: 'main', digest: grafanaDigest, namePrefix: 'solar-' }],
      ['127.0.0.1:5000/other/grafana', { tag: 'main', digest: tokenDigest }],
    ]);
    const grafana = loadFixture('placeholder.yaml').filter((d) => d.object.metadata.name === 'grafana');
    (grafana[0]!.object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels.app = 'grafana';
    assert.throws(
      () => pinImages(grafana, ambiguous),
      /matches several tracked images \(127\.0\.0\.1:5000\/acme\/solar-grafana:main, 127\.0\.0\.1:5000\/other\/grafana:main\)/,
    );
  });

  it('knows an image by its last segment, and without the rule prefix', () => {
    assert.deepEqual(imageNames('acme/solar-influx', 'solar-'), ['solar-influx', 'influx']);
    assert.deepEqual(imageNames('acme/solar-influx'), ['solar-influx']);
    assert.deepEqual(imageNames('acme/lunar-influx', 'solar-'), ['lunar-influx']);
    assert.deepEqual(imageNames('solar-', 'solar-'), ['solar-']);
  });
});
