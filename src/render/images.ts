/**
 * Image pinning: tracked images in the rendered manifests become `repo:tag@sha256:…`.
 *
 * The registry source resolves every tracked image (a Pipeline's `spec.images` rule covers
 * one repository, or many through a glob) to the digest of its tag. Here every container and
 * initContainer of every workload — Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
 * CronJob (its job template) and Pod — whose image is a tracked `repo:tag` gets that digest
 * appended. A new digest therefore changes the pod template, and the workload rolls the way
 * any template change rolls it (a rolling update, never a delete). Images are compared by
 * repository, whatever their spelling (`nginx` is `docker.io/library/nginx`), and by tag
 * (none means `latest`). An image that is already pinned, or not tracked, is left alone.
 *
 * The original DORIS's placeholder `image: image_url_var` is supported: it becomes the
 * tracked image whose *name* equals the workload's `app` label — `metadata.labels.app` of
 * the workload, else of its pod template. A tracked image's names are the last segment of
 * its repository, and that segment without the rule's name prefix (the literal part of a glob
 * before its wildcard): `ghcr.io/acme/solar-influx` found by `ghcr.io/acme/solar-*` is
 * named both `solar-influx` and `influx`. A placeholder that matches no tracked image, or
 * several, fails the render (`BuildFailed`) naming the file, the object and the container.
 *
 * The registry is asked only about the images the manifests name (`referencedImages`): a
 * glob rule tracks those it matches, and for a placeholder the image its `app` label names.
 * A tracked image whose digest could not be resolved, and was never known, stays as written
 * (unpinned); a placeholder that stands for one fails the render, naming the registry's error.
 *
 * Pure: the input objects are never modified; objects with nothing to pin are returned as
 * they are (same reference), the others as new objects.
 */
import { canonicalName, tryParseImageReference } from '../source/registry/reference.js';
import { RenderError } from './errors.js';
import { groupOf, describeObject } from '../kube/objectid.js';
import { makeProblem } from './problems.js';
import type { DesiredObject, KubeObject, Problem } from './types.js';

/** The placeholder the original DORIS substituted with the image of the workload's app. */
export const imagePlaceholder = 'image_url_var';

export interface TrackedImage {
  /** The tag the rule follows. */
  tag: string;
  /**
   * The tag's digest (`sha256:…`): the last known one when the registry is failing; absent
   * when it could not be resolved and was never known (the image is then left as written).
   */
  digest?: string;
  /** The prefix of the rule that found the image (`solar-` for `acme/solar-*`), if any. */
  namePrefix?: string;
  /** Why the digest could not be resolved, when it could not. */
  error?: string;
}

/** Tracked images by repository, written as their rule writes them (`ghcr.io/acme/app`). */
export type TrackedImages = ReadonlyMap<string, TrackedImage>;

type Path = readonly string[];

const podTemplate: Path = ['spec', 'template'];
const workloadTemplates: Record<string, Record<string, Path>> = {
  apps: { Deployment: podTemplate, StatefulSet: podTemplate, DaemonSet: podTemplate, ReplicaSet: podTemplate },
  batch: { Job: podTemplate, CronJob: ['spec', 'jobTemplate', 'spec', 'template'] },
  '': { Pod: [] },
};

/**
 * Where a workload keeps its pod (an object with `metadata` and `spec`): the path to its pod
 * template, `[]` for a Pod (the object itself), undefined for kinds that run no pods.
 */
export function podTemplatePath(object: Pick<KubeObject, 'apiVersion' | 'kind'>): Path | undefined {
  return workloadTemplates[groupOf(object.apiVersion)]?.[object.kind];
}

function at(value: unknown, path: Path): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

interface PodLike {
  metadata?: { labels?: Record<string, unknown> };
  spec?: { containers?: unknown; initContainers?: unknown };
}

/** The containers and initContainers of a pod spec that have a string image. */
export function containersOf(pod: PodLike | undefined): Array<{ name: string; image: string; container: Record<string, unknown> }> {
  const found: Array<{ name: string; image: string; container: Record<string, unknown> }> = [];
  for (const list of [pod?.spec?.initContainers, pod?.spec?.containers]) {
    if (!Array.isArray(list)) continue;
    for (const container of list) {
      if (container === null || typeof container !== 'object') continue;
      const c = container as Record<string, unknown>;
      if (typeof c.image === 'string') found.push({ name: typeof c.name === 'string' ? c.name : '?', image: c.image, container: c });
    }
  }
  return found;
}

/** The workload's `app` label: its own, else (CronJob) its job template's, else its pod template's. */
export function appLabelOf(object: KubeObject, path: Path): string | undefined {
  const candidates = [
    object.metadata.labels?.app,
    at(object, ['spec', 'jobTemplate', 'metadata', 'labels', 'app']),
    at(object, [...path, 'metadata', 'labels', 'app']),
  ];
  return candidates.find((label): label is string => typeof label === 'string' && label !== '');
}

/** The names a placeholder can match for a tracked repository: its last segment, and without the prefix. */
export function imageNames(repositoryPath: string, namePrefix = ''): string[] {
  const last = repositoryPath.slice(repositoryPath.lastIndexOf('/') + 1);
  const names = [last];
  if (namePrefix && last.startsWith(namePrefix) && last.length > namePrefix.length) names.push(last.slice(namePrefix.length));
  return names;
}

interface IndexedImage {
  repository: string;
  canonical: string;
  image: TrackedImage;
  names: string[];
}

function indexImages(images: TrackedImages): Map<string, IndexedImage[]> {
  const byCanonical = new Map<string, IndexedImage[]>();
  for (const [repository, image] of images) {
    const reference = tryParseImageReference(repository);
    if (!reference) continue;
    const canonical = canonicalName(reference);
    const entry = { repository, canonical, image, names: imageNames(reference.repository, image.namePrefix) };
    byCanonical.set(canonical, [...(byCanonical.get(canonical) ?? []), entry]);
  }
  return byCanonical;
}

/** `nginx:1.25` → `nginx:1.25@sha256:…`; untracked, pinned or unparsable images → undefined. */
function pinnedImage(image: string, index: Map<string, IndexedImage[]>): string | undefined {
  const reference = tryParseImageReference(image);
  if (!reference || reference.digest !== undefined) return undefined;
  const tag = reference.tag ?? 'latest';
  const tracked = index.get(canonicalName(reference))?.find((entry) => entry.image.tag === tag);
  if (tracked?.image.digest === undefined) return undefined;
  const written = image.trim();
  return `${reference.tag === undefined ? `${written}:latest` : written}@${tracked.image.digest}`;
}

/** What the manifests ask the registry about: the images they name, and the placeholders' app labels. */
export interface ImageReferences {
  /** Every container image written in full and not pinned (`127.0.0.1:5000/acme/app:main`), once. */
  images: string[];
  /** The `app` label of every workload with an `image: image_url_var` container, once. */
  placeholderApps: string[];
}

/** The images `objects` reference, for the registry source to resolve (see ImageReferences). */
export function referencedImages(objects: readonly DesiredObject[]): ImageReferences {
  const images = new Set<string>();
  const apps = new Set<string>();
  for (const desired of objects) {
    const path = podTemplatePath(desired.object);
    if (!path) continue;
    const pod = (path.length === 0 ? desired.object : at(desired.object, path)) as PodLike | undefined;
    for (const { image } of containersOf(pod)) {
      const written = image.trim();
      if (written === imagePlaceholder) {
        const app = appLabelOf(desired.object, path);
        if (app !== undefined) apps.add(app);
        continue;
      }
      const reference = tryParseImageReference(written);
      if (reference && reference.digest === undefined) images.add(written);
    }
  }
  return { images: [...images].sort(), placeholderApps: [...apps].sort() };
}

/** Pins every tracked image of `objects`; throws `RenderError` (BuildFailed) for unresolvable placeholders. */
export function pinImages(objects: readonly DesiredObject[], images: TrackedImages): DesiredObject[] {
  const index = indexImages(images);
  const all = [...index.values()].flat();
  const problems: Problem[] = [];
  const result = objects.map((desired) => {
    const path = podTemplatePath(desired.object);
    if (!path) return desired;
    const copy = structuredClone(desired.object);
    const pod = (path.length === 0 ? copy : at(copy, path)) as PodLike | undefined;
    let changed = false;
    for (const { name, image, container } of containersOf(pod)) {
      if (image.trim() === imagePlaceholder) {
        const where = `${describeObject(desired.object)}, container "${name}"`;
        const app = appLabelOf(desired.object, path);
        const problem = (message: string) =>
          problems.push(makeProblem('error', desired.source.file, `${where}: ${message}`, desired.source.line, desired.source.col));
        if (app === undefined) {
          problem(
            `image: ${imagePlaceholder} needs an "app" label on the workload (the name of the tracked image, without the rule's prefix); add one or write the image in full`,
          );
          continue;
        }
        const matches = all.filter((entry) => entry.names.includes(app));
        const distinct = [...new Map(matches.map((m) => [`${m.canonical}:${m.image.tag}`, m])).values()];
        if (distinct.length === 0) {
          const known =
            all
              .map((e) => e.names.at(-1))
              .sort()
              .join(', ') || 'none';
          problem(
            `image: ${imagePlaceholder} resolves to the tracked image named "${app}" (its app label), but no tracked image has that name (tracked: ${known}); add an image rule under spec.images that covers it, or write the image in full`,
          );
          continue;
        }
        if (distinct.length > 1) {
          problem(
            `image: ${imagePlaceholder} with app label "${app}" matches several tracked images (${distinct
              .map((d) => `${d.repository}:${d.image.tag}`)
              .sort()
              .join(', ')}); write the image in full`,
          );
          continue;
        }
        const [match] = distinct as [IndexedImage];
        if (match.image.digest === undefined) {
          problem(
            `image: ${imagePlaceholder} with app label "${app}" stands for ${match.repository}:${match.image.tag}, whose digest could not be resolved: ${match.image.error ?? 'no reason given'}`,
          );
          continue;
        }
        container.image = `${match.repository}:${match.image.tag}@${match.image.digest}`;
        changed = true;
        continue;
      }
      const pinned = pinnedImage(image, index);
      if (pinned !== undefined) {
        container.image = pinned;
        changed = true;
      }
    }
    return changed ? { ...desired, object: copy } : desired;
  });
  if (problems.length > 0) throw new RenderError(problems);
  return result;
}
