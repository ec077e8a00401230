/**
 * The hub source: a Pipeline with `spec.hub` follows a fleet hub instead of git
 * (docs/adr/0010-hub.md). The hub chose the commit and the image digests for this device;
 * the agent downloads the commit's wave folder as a bundle, checks its sha256 before
 * unpacking anything, and hands the folder to the same sync script as a git checkout.
 *
 * `HubClient` speaks the wire protocol (src/hub/protocol.ts) over node:http(s), so that a
 * private CA (`ca.crt` in the token Secret) can be trusted without touching the process's
 * global TLS settings. The device token travels only in the Authorization header and is never
 * part of an error message.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { ImageChange, ImageStatus, PipelineSpec } from '../api/pipeline.js';
import type { DeviceReport } from '../api/hub.js';
import { DorisError } from '../errors.js';
import { extractBundle } from '../hub/bundles.js';
import type { EnrollRequest, EnrollResponse, Target } from '../hub/protocol.js';
import type { TrackedImage } from '../render/images.js';
import { printable } from '../render/problems.js';
import type { ImageResolution } from './images.js';
import type { PipelineSource } from './source.js';

/** What a refusal by the hub means for the device (the status says it). */
export class HubError extends DorisError {
  constructor(
    message: string,
    /** The HTTP status, 0 when the hub could not be reached. */
    readonly status: number,
    /** The hub's `Retry-After` (a hub shutting down spreads its agents' returns with it). */
    readonly retryAfterMs?: number,
  ) {
    super(status === 401 || status === 403 ? 'CredentialsFailed' : 'ArtifactFailed', message);
    this.name = 'HubError';
  }
}

export interface HubClientOptions {
  /** PEM of a CA to trust besides the system's (a hub with its own certificate). */
  ca?: string;
  /** Per request, beyond a long-poll's own wait. */
  timeoutMs: number;
  /** Largest bundle accepted. */
  maxBundleBytes: number;
}

export function defaultHubClientOptions(): HubClientOptions {
  return { timeoutMs: 30_000, maxBundleBytes: 4 * 1024 * 1024 };
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const seg = encodeURIComponent;

export class HubClient {
  private readonly base: URL;

  constructor(
    url: string,
    private readonly token: string | undefined,
    private readonly options: HubClientOptions = defaultHubClientOptions(),
  ) {
    this.base = new URL(url.endsWith('/') ? url : `${url}/`);
  }

  private send(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number; limit?: number; signal?: AbortSignal } = {},
  ): Promise<Answer> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const body = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const limit = init.limit ?? 1024 * 1024;
    const where = `${this.base.origin}${url.pathname}`;
    return new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method, headers, ca: this.options.ca, timeout: init.timeoutMs ?? this.options.timeoutMs, signal: init.signal },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
              res.destroy();
              reject(new HubError(`${method} ${where}: the answer exceeds ${limit} bytes`, res.statusCode ?? 0));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (error) => reject(new HubError(`${method} ${where}: ${error.message}`, 0)));
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${init.timeoutMs ?? this.options.timeoutMs} ms`)));
      request.on('error', (error) => reject(new HubError(`${method} ${where}: ${error.message}`, 0)));
      request.end(body);
    });
  }

  private refusal(method: string, path: string, answer: Answer): HubError {
    let message = answer.body.toString('utf8').slice(0, 300);
    try {
      const parsed = JSON.parse(message) as { message?: string };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: the text as it came
    }
    const hint =
      answer.status === 401
        ? ' (the device token was refused: the Device was deleted on the hub, or the token Secret is wrong; enroll again with `doris bootstrap --hub`)'
        : '';
    const retryAfter = Number(answer.headers['retry-after']);
    return new HubError(
      `hub ${method} ${path}: ${answer.status} ${message}${hint}`,
      answer.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 600) * 1000 : undefined,
    );
  }

  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    const answer = await this.send('POST', '/v1/enroll', { body: request });
    if (answer.status !== 200 && answer.status !== 201) throw this.refusal('POST', '/v1/enroll', answer);
    return JSON.parse(answer.body.toString('utf8')) as EnrollResponse;
  }

  /**
   * The device's target. With `etag`, the hub holds the request up to `waitSeconds` and
   * answers `undefined` (304) when nothing changed.
   */
  async target(fleet: string, etag: string | undefined, waitSeconds: number, signal?: AbortSignal): Promise<{ target: Target; etag: string } | undefined> {
    const path = `/v1/fleets/${seg(fleet)}/target?wait=${Math.max(0, Math.floor(waitSeconds))}`;
    const answer = await this.send('GET', path, {
      headers: etag ? { 'if-none-match': etag } : {},
      timeoutMs: this.options.timeoutMs + waitSeconds * 1000,
      signal,
    });
    if (answer.status === 304) return undefined;
    if (answer.status !== 200) throw this.refusal('GET', path, answer);
    const target = JSON.parse(answer.body.toString('utf8')) as Target;
    // The commit names folders on this device (checkouts) and is what the sync applies.
    if (typeof target.commit !== 'string' || !/^[0-9a-f]{40,64}$/.test(target.commit)) {
      throw new HubError(
        `the hub sent a target whose commit is not a git commit id (40 to 64 hex digits): "${printable(String(target.commit).slice(0, 80))}"`,
        0,
      );
    }
    return { target, etag: String(answer.headers.etag ?? `"${target.revision}"`) };
  }

  /** The bundle's bytes, verified against its digest. */
  async bundle(fleet: string, digest: string, signal?: AbortSignal): Promise<Buffer> {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new HubError(`the hub named an invalid bundle digest: ${digest.slice(0, 80)}`, 0);
    const path = `/v1/fleets/${seg(fleet)}/bundles/${digest}`;
    const answer = await this.send('GET', path, { headers: { accept: 'application/gzip' }, limit: this.options.maxBundleBytes, signal });
    if (answer.status !== 200) throw this.refusal('GET', path, answer);
    const actual = `sha256:${createHash('sha256').update(answer.body).digest('hex')}`;
    if (actual !== digest) throw new HubError(`bundle ${digest} from the hub does not match its digest (got ${actual}): refused`, 0);
    return answer.body;
  }

  async report(fleet: string, device: string, report: DeviceReport): Promise<void> {
    const path = `/v1/fleets/${seg(fleet)}/devices/${seg(device)}/report`;
    const answer = await this.send('PUT', path, { body: report });
    if (answer.status !== 204 && answer.status !== 200) throw this.refusal('PUT', path, answer);
  }
}

/**
 * The revision a hub chose, as a sync source: `resolve` is the target's commit, `checkout`
 * unpacks the verified bundle. The bundle of the current revision is cached under `cacheDir`
 * (only that one), so a resync of the same revision downloads nothing.
 */
export class HubSource implements PipelineSource {
  /** The bundle holds the wave folder itself. */
  readonly path = '.';

  constructor(
    private readonly client: HubClient,
    private readonly target: Target,
    private readonly cacheDir: string,
    private readonly signal?: AbortSignal,
  ) {}

  private cached(): string {
    return join(this.cacheDir, `${this.target.bundle.digest.replace(':', '-')}.tgz`);
  }

  async resolve(): Promise<string> {
    return this.target.commit;
  }

  async fetchCommit(commit: string): Promise<void> {
    if (commit !== this.target.commit) throw new HubError(`the hub's target is ${this.target.commit.slice(0, 12)}, not ${commit.slice(0, 12)}`, 0);
    const file = this.cached();
    if (existsSync(file) && `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}` === this.target.bundle.digest) return;
    const bytes = await this.client.bundle(this.target.fleet, this.target.bundle.digest, this.signal);
    mkdirSync(this.cacheDir, { recursive: true });
    // Written whole, then renamed: a crash never leaves a half bundle under the final name.
    const partial = `${file}.${process.pid}.part`;
    writeFileSync(partial, bytes, { mode: 0o600 });
    renameSync(partial, file);
    // One bundle is kept (a device must not fill its disk over months of revisions); a rollback
    // downloads its bundle again.
    for (const name of readdirSync(this.cacheDir)) {
      if (name.endsWith('.tgz') && join(this.cacheDir, name) !== file) rmSync(join(this.cacheDir, name), { force: true });
    }
  }

  async checkout(commit: string, parent: string): Promise<string> {
    await this.fetchCommit(commit);
    mkdirSync(parent, { recursive: true });
    const dir = mkdtempSync(join(parent, `bundle-${commit.slice(0, 12)}-`));
    try {
      extractBundle(readFileSync(this.cached()), dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return dir;
  }
}

/**
 * The image digests the hub chose, in the shape the sync expects from an image tracker: the
 * device never asks the registry. Changes are reported against what the device ran before.
 */
export class HubImages {
  constructor(private readonly images: ImageStatus[]) {}

  async resolve(_rules: PipelineSpec['images'], lastKnown: ImageStatus[], _signal?: AbortSignal, options: { now?: Date } = {}): Promise<ImageResolution> {
    const now = (options.now ?? new Date()).toISOString();
    const changes: ImageChange[] = [];
    const tracked = new Map<string, TrackedImage>();
    const unresolved = [];
    for (const image of this.images) {
      const before = lastKnown.find((i) => i.repository === image.repository);
      if (image.digest && before?.digest !== image.digest)
        changes.push({ repository: image.repository, tag: image.tag, from: before?.digest, to: image.digest, at: now });
      if (!image.digest)
        unresolved.push({
          rule: image.rule,
          repository: image.repository,
          tag: image.tag,
          error: image.error ?? `${image.repository}:${image.tag}: the hub has no digest for it`,
        });
      if (tracked.get(image.repository)?.digest !== undefined) continue;
      tracked.set(image.repository, {
        tag: image.tag,
        ...(image.digest ? { digest: image.digest } : {}),
        ...(image.namePrefix ? { namePrefix: image.namePrefix } : {}),
      });
    }
    return { images: this.images, tracked, changes, kept: [], unresolved, errors: unresolved.map((f) => f.error) };
  }
}
