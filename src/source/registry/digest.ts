/**
 * A tag's digest: `HEAD /v2/<name>/manifests/<tag>`, accepting every manifest type a tag can
 * point at (OCI index and manifest, Docker manifest list and v2 manifest), so the registry
 * returns the digest of what is stored — the digest the kubelet pulls by — and never
 * converts it. The digest comes from `Docker-Content-Digest`; a registry that omits it gets
 * one GET of the manifest, whose sha256 is the digest. HEAD costs nothing against Docker
 * Hub's pull rate limit, which is why the steady state sends only HEADs.
 */
import { createHash } from 'node:crypto';
import type { AuthTarget } from './auth.js';
import { ImageResolveError, explainStatus } from './errors.js';
import type { ImageReference } from './reference.js';
import type { RegistryTransport } from './transport.js';

export const manifestMediaTypes = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export const manifestAccept = manifestMediaTypes.join(', ');

const digestHeaderPattern = /^sha256:[0-9a-f]{64}$/;

/** Resolves `reference`'s repository at `tag` to `sha256:…`. */
export async function resolveManifestDigest(
  transport: RegistryTransport,
  reference: ImageReference,
  tag: string,
  subject: string,
  signal?: AbortSignal,
): Promise<string> {
  const target: AuthTarget = {
    registry: reference.registry,
    apiHost: reference.apiHost,
    scope: `repository:${reference.repository}:pull`,
    subject,
  };
  const path = `/v2/${reference.repository}/manifests/${encodeURIComponent(tag)}`;
  const fail = (status: number): never => {
    throw new ImageResolveError(subject, `the registry answered ${status}: ${explainStatus(status)}`, { status });
  };

  const head = await transport.send(target, 'HEAD', path, { accept: manifestAccept }, signal);
  if (head.status !== 200) fail(head.status);
  const fromHeader = head.headers.get('docker-content-digest')?.trim();
  if (fromHeader && digestHeaderPattern.test(fromHeader)) return fromHeader;

  // No (usable) digest header: the digest is the sha256 of the manifest as stored.
  const get = await transport.send(target, 'GET', path, { accept: manifestAccept }, signal);
  if (get.status !== 200) fail(get.status);
  if (get.body.length === 0) throw new ImageResolveError(subject, 'the registry sent an empty manifest and no Docker-Content-Digest header', { status: 200 });
  return `sha256:${createHash('sha256').update(get.body).digest('hex')}`;
}
