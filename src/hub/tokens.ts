/**
 * The hub's two kinds of tokens. Neither is ever stored in clear: only its SHA-256 is kept.
 * Both carry 256 random bits, so a fast hash is enough (there is no dictionary to try).
 *
 * - Enrollment tokens are made by an operator (`doris hub token create`) and spent by devices
 *   to enroll. Each is a Secret in the hub namespace named after the token's hash (so that
 *   the hub finds it with one GET, without listing), labelled
 *   `hub.doris.dev/enrollment-token=true`, holding the full hash, the Fleet, the labels the
 *   devices get, the expiry and the uses left. A use is spent with the Secret's
 *   resourceVersion as precondition: two devices racing for the last use cannot both win. A
 *   use is given back the same way when the Device could not be written.
 * - Device tokens are `<device>.<secret>`: the hub finds the Device by the name before the dot
 *   and compares the hash of the whole token with the Device's `spec.tokenHash`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fleetLabel } from '../api/hub.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../kube/object.js';
import { HubRefusal } from './errors.js';

export const enrollmentTokenLabel = 'hub.doris.dev/enrollment-token';

/** `sha256:<hex>` of a token. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** Whether `token` hashes to `hash`, in constant time (for hashes of the same form). */
export function tokenMatches(token: string, hash: string): boolean {
  const given = Buffer.from(hashToken(token));
  const want = Buffer.from(hash);
  return given.length === want.length && timingSafeEqual(given, want);
}

const secretPart = () => randomBytes(32).toString('base64url');

/** A new device token for `device`: shown once to the device, never stored. */
export function newDeviceToken(device: string): string {
  return `${device}.${secretPart()}`;
}

/** Where the enrollment token lives: a name derived from its hash (not the token itself). */
export function enrollmentSecretName(token: string): string {
  return `doris-enroll-${hashToken(token).slice('sha256:'.length, 'sha256:'.length + 40)}`;
}

export interface EnrollmentTokenInfo {
  /** The Secret that holds it. */
  name: string;
  fleet: string;
  labels: Record<string, string>;
  expiresAt: string;
  usesLeft: number;
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8'));

function readGrant(secret: SecretObject): (EnrollmentTokenInfo & { tokenHash: string }) | undefined {
  const data = secret.data ?? {};
  const tokenHash = unb64(data.tokenHash);
  const fleet = unb64(data.fleet);
  const expiresAt = unb64(data.expiresAt);
  const usesLeft = Number(unb64(data.usesLeft));
  let labels: unknown;
  try {
    labels = JSON.parse(unb64(data.labels) ?? '{}');
  } catch {
    return undefined;
  }
  if (!tokenHash || !fleet || !expiresAt || !Number.isSafeInteger(usesLeft) || typeof labels !== 'object' || labels === null) return undefined;
  return { name: secret.metadata.name, tokenHash, fleet, expiresAt, usesLeft, labels: labels as Record<string, string> };
}

export class EnrollmentTokens {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates an enrollment token; the token is returned once and stored only hashed. */
  async create(options: { fleet: string; labels: Record<string, string>; ttlMs: number; uses: number }): Promise<EnrollmentTokenInfo & { token: string }> {
    const token = secretPart();
    const name = enrollmentSecretName(token);
    const expiresAt = new Date(this.now() + options.ttlMs).toISOString();
    const secret: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [enrollmentTokenLabel]: 'true', [fleetLabel]: options.fleet, 'app.kubernetes.io/part-of': 'doris' },
      },
      type: 'Opaque',
      data: {
        tokenHash: b64(hashToken(token)),
        fleet: b64(options.fleet),
        labels: b64(JSON.stringify(options.labels)),
        expiresAt: b64(expiresAt),
        usesLeft: b64(String(options.uses)),
      },
    };
    await this.client.create(secret);
    return { token, name, fleet: options.fleet, labels: options.labels, expiresAt, usesLeft: options.uses };
  }

  /** The token's Secret and what it grants, if `token` is an enrollment token this hub made. */
  private async read(token: string): Promise<{ secret: SecretObject; grant: EnrollmentTokenInfo & { tokenHash: string } } | undefined> {
    const key = { apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: enrollmentSecretName(token) };
    const secret = (await this.client.get(key)) as SecretObject | undefined;
    const grant = secret && secret.metadata.labels?.[enrollmentTokenLabel] === 'true' ? readGrant(secret) : undefined;
    return secret && grant && tokenMatches(token, grant.tokenHash) ? { secret, grant } : undefined;
  }

  /** Writes the uses left, with the resourceVersion read as precondition: false when a concurrent use came first (409). */
  private async writeUses(secret: SecretObject, usesLeft: number): Promise<boolean> {
    try {
      await this.client.replace({ ...secret, data: { ...secret.data, usesLeft: b64(String(usesLeft)) } });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) return false;
      throw error;
    }
  }

  /**
   * Spends one use of `token` for an enrollment into `fleet`: the labels the device gets.
   * Refuses (401) an unknown, expired or used-up token and (403) a token of another Fleet.
   */
  async consume(token: string, fleet: string): Promise<{ labels: Record<string, string> }> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const found = await this.read(token);
      if (!found)
        throw new HubRefusal(401, 'enrollment-refused', 'unknown enrollment token (never created, or deleted); create one with `doris hub token create`');
      const { secret, grant } = found;
      if (grant.fleet !== fleet) throw new HubRefusal(403, 'enrollment-refused', `the enrollment token is for Fleet ${grant.fleet}, not ${fleet}`);
      if (Date.parse(grant.expiresAt) <= this.now()) {
        throw new HubRefusal(401, 'enrollment-refused', `the enrollment token expired at ${grant.expiresAt}; create a new one with \`doris hub token create\``);
      }
      if (grant.usesLeft <= 0)
        throw new HubRefusal(401, 'enrollment-refused', 'the enrollment token is used up (no uses left); create a new one with `doris hub token create`');
      if (await this.writeUses(secret, grant.usesLeft - 1)) return { labels: grant.labels };
    }
    throw new HubRefusal(503, 'not-ready', 'the enrollment token is being used by other enrollments right now; try again');
  }

  /**
   * Gives back the use `consume` spent, for an enrollment that did not happen (the Device could
   * not be written). The same precondition as spending keeps a concurrent use from being lost;
   * a token deleted meanwhile has nothing to give back. False when it could not.
   */
  async giveBack(token: string): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const found = await this.read(token);
      if (!found) return false;
      if (await this.writeUses(found.secret, found.grant.usesLeft + 1)) return true;
    }
    return false;
  }
}
