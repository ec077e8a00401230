/**
 * Glob rules without a registry catalog: which repositories a glob tracks is decided from the
 * rendered manifests alone (the images they name, and the placeholders' app labels).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { pinImages, referencedImages, type TrackedImages } from '../../../src/render/images.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';
import { parseRulePattern, placeholderRepository, ruleCovers, ruleMatches } from '../../../src/source/registry/rule.js';
import { loadFixture } from './fixture.js';

const digest = `sha256:${'5e'.repeat(32)}`;

function desired(yaml: string): DesiredObject {
  return { object: parse(yaml) as KubeObject, wave: 1, waveName: '1-app', step: 170, source: { file: 'deploy/1-app/170-app.yml', line: 1, col: 1 } };
}

const deployment = (name: string, image: string, app = name) =>
  desired(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: solar, labels: { app: ${app} } }
spec:
  selector: { matchLabels: { app: ${app} } }
  template:
    metadata: { labels: { app: ${app} } }
    spec:
      containers: [{ name: ${name}, image: "${image}" }]
`);

describe('referencedImages', () => {
  it('lists every unpinned image of every workload once, initContainers and every kind included', () => {
    const { images, placeholderApps } = referencedImages(loadFixture('workloads.yaml'));
    assert.deepEqual(images, ['127.0.0.1:5000/acme/solar-influx:main', 'docker.io/library/busybox:1.36', 'nginx']);
    assert.deepEqual(placeholderApps, []);
  });

  it('leaves out pinned images and image-looking fields of objects that are not workloads', () => {
    const { images } = referencedImages(loadFixture('untouched.yaml'));
    assert.ok(!images.some((i) => i.includes('@sha256:')), images.join(', '));
    assert.deepEqual(images, ['127.0.0.1:5000/acme/solar-influx:v2', 'grafana/grafana:11.0.0']);
  });

  it('lists the app label of each workload with an image_url_var placeholder', () => {
    assert.deepEqual(referencedImages(loadFixture('placeholder.yaml')).placeholderApps, ['influxcreatetoken', 'solar-grafana']);
  });
});

describe('ruleCovers', () => {
  const glob = parseRulePattern('127.0.0.1:5000/acme/solar-*');

  it('covers an image of the same registry whose path the glob matches, spelled as the rule spells it', () => {
    assert.equal(ruleCovers(glob, '127.0.0.1:5000/acme/solar-influx:main'), '127.0.0.1:5000/acme/solar-influx');
    assert.equal(ruleCovers(glob, '127.0.0.1:5000/acme/solar-influx'), '127.0.0.1:5000/acme/solar-influx');
  });

  it('does not cover another registry, another directory, or a deeper path', () => {
    assert.equal(ruleCovers(glob, '127.0.0.2:5000/acme/solar-influx:main'), undefined);
    assert.equal(ruleCovers(glob, '127.0.0.1:5000/other/solar-influx:main'), undefined);
    assert.equal(ruleCovers(glob, '127.0.0.1:5000/acme/solar-influx/extra:main'), undefined);
    assert.equal(ruleCovers(glob, 'image_url_var'), undefined);
  });

  it('covers Docker Hub images in any spelling', () => {
    const hub = parseRulePattern('docker.io/acme/solar-*');
    assert.equal(ruleCovers(hub, 'acme/solar-influx:main'), 'docker.io/acme/solar-influx');
    assert.equal(ruleCovers(hub, 'index.docker.io/acme/solar-influx'), 'docker.io/acme/solar-influx');
    assert.equal(ruleMatches('ngin?', 'docker.io/library/nginx'), true);
  });
});

describe('placeholderRepository', () => {
  const glob = parseRulePattern('ghcr.io/acme/solar-*');

  it('joins the glob prefix with the app label', () => {
    assert.equal(placeholderRepository(glob, 'influx'), 'ghcr.io/acme/solar-influx');
  });

  it('takes an app label that is already the full image name as it is', () => {
    assert.equal(placeholderRepository(glob, 'solar-grafana'), 'ghcr.io/acme/solar-grafana');
  });

  it('names nothing when the result would not match the glob', () => {
    assert.equal(placeholderRepository(parseRulePattern('ghcr.io/acme/solar-*-app'), 'influx'), undefined);
    assert.equal(placeholderRepository(glob, 'Influx'), undefined, 'not a valid repository name');
  });

  it('names nothing under a glob whose directory has a wildcard, or for a plain rule', () => {
    assert.equal(placeholderRepository(parseRulePattern('ghcr.io/*/solar-*'), 'influx'), undefined);
    assert.equal(placeholderRepository(parseRulePattern('ghcr.io/acme/solar-influx'), 'influx'), undefined);
  });

  it('joins a glob without a prefix with the label alone', () => {
    assert.equal(placeholderRepository(parseRulePattern('ghcr.io/acme/*'), 'influx'), 'ghcr.io/acme/influx');
  });
});

describe('pinImages with images that could not be resolved', () => {
  const unresolved: TrackedImages = new Map([
    ['ghcr.io/acme/solar-influx', { tag: 'main', namePrefix: 'solar-', error: 'image ghcr.io/acme/solar-influx:main: the registry answered 503 (3 attempts)' }],
    ['ghcr.io/acme/solar-grafana', { tag: 'main', namePrefix: 'solar-', digest }],
  ]);

  it('leaves an image whose digest was never resolved as written', () => {
    const influx = deployment('influx', 'ghcr.io/acme/solar-influx:main');
    const [out] = pinImages([influx], unresolved);
    assert.equal(out, influx, 'the same object, unpinned');
  });

  it('still pins the images that did resolve', () => {
    const [out] = pinImages([deployment('grafana', 'ghcr.io/acme/solar-grafana:main')], unresolved);
    assert.equal(
      (out!.object.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image,
      `ghcr.io/acme/solar-grafana:main@${digest}`,
    );
  });

  it('fails a placeholder that stands for an unresolved image, naming the image and the registry error', () => {
    assert.throws(
      () => pinImages([deployment('influx', 'image_url_var')], unresolved),
      /deploy\/1-app\/170-app\.yml:1:1: Deployment solar\/influx, container "influx": image: image_url_var with app label "influx" stands for ghcr\.io\/acme\/solar-influx:main, whose digest could not be resolved: image ghcr\.io\/acme\/solar-influx:main: the registry answered 503/,
    );
  });
});
