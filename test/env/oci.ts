/**
 * Builds one-layer OCI images as OCI layouts on disk (no Docker engine exists here) and
 * pushes them with skopeo. The layer holds one file whose content is the given text, so
 * different texts give different digests and the same text the same digest.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileP } from './proc.js';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A minimal ustar archive with one regular file (fixed mode, owner and time). */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512, 0);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024, 0)]);
}

/** Writes an OCI image layout for `tag` into `dir`; returns the manifest digest. */
export function writeOciLayout(dir: string, tag: string, content: string): string {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const writeBlob = (data: Buffer | string): { digest: string; size: number } => {
    const hex = sha256(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const tar = tarOneFile('content.txt', Buffer.from(content, 'utf8'));
  const layer = writeBlob(gzipSync(tar, { level: 9 }));
  const config = writeBlob(
    JSON.stringify({
      architecture: 'arm64',
      os: 'linux',
      config: { Cmd: ['/content.txt'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    }),
  );
  const manifestBody = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  });
  const manifest = writeBlob(manifestBody);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return manifest.digest;
}

export interface PushTarget {
  registry: string;
  username: string;
  password: string;
}

/** Builds and pushes `name:tag` whose layer holds `content`; returns the pushed digest. */
export async function pushImage(target: PushTarget, name: string, tag: string, content: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'doris-oci-'));
  try {
    const layout = join(work, 'layout');
    const expected = writeOciLayout(layout, tag, content);
    // Credentials go in an auth file, not on skopeo's command line.
    const authfile = join(work, 'auth.json');
    const auth = Buffer.from(`${target.username}:${target.password}`).toString('base64');
    writeFileSync(authfile, JSON.stringify({ auths: { [target.registry]: { auth } } }), { mode: 0o600 });
    const digestfile = join(work, 'digest');
    await execFileP('skopeo', [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--dest-authfile',
      authfile,
      '--digestfile',
      digestfile,
      `oci:${layout}:${tag}`,
      `docker://${target.registry}/${name}:${tag}`,
    ]);
    const digest = readFileSync(digestfile, 'utf8').trim();
    if (digest !== expected) throw new Error(`registry stored ${digest}, expected ${expected}`);
    return digest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
