/**
 * The wire protocol between a hub and its agents (JSON over HTTP(S)); see
 * docs/adr/0010-hub.md. Every route but enrollment takes `Authorization: Bearer <device token>`.
 *
 *   POST /v1/enroll                                      enrollment token → device token (once)
 *   GET  /v1/fleets/{fleet}/target?wait=SECONDS          the device's target; long-poll with If-None-Match
 *   GET  /v1/fleets/{fleet}/bundles/sha256:{hex}         the bundle bytes (immutable, cacheable)
 *   PUT  /v1/fleets/{fleet}/devices/{device}/report      the device's report (204)
 *
 * A device token is `<device>.<secret>`: the hub finds the Device by name and compares the
 * SHA-256 of the whole token with `spec.tokenHash` (constant time). It can read only its own
 * fleet's target and bundles and write only its own report (403 otherwise); a deleted Device
 * is refused at once (401).
 */
import { z } from 'zod';
import type { ImageStatus, PipelineSpec } from '../api/pipeline.js';

export const protocolVersion = 'v1';

/**
 * The API server's own rules, checked here so that a request it would refuse (422) is refused
 * before an enrollment token's use is spent on it.
 */
const subdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isSubdomain = (value: string) => value.length <= 253 && subdomainPattern.test(value);
const subdomainRule =
  "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', each '.'-separated part starting and ending with a letter or digit, at most 253 characters";
/** A label key's name part, and a label value (which may also be empty). */
const labelNamePattern = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelNameRule = "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/** Device names: a DNS-1123 subdomain, as the Device object is named after the device. */
export const deviceNameSchema = z.string().refine(isSubdomain, `a device name must be ${subdomainRule}`);

/** Fleet names: a DNS-1123 label (a Fleet's name is also a label value on its Devices). */
export const fleetNameSchema = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Fleet name (lower case, digits and -)');

/** A bundle's name: `sha256:` and 64 lower-case hex digits. */
export const bundleDigestPattern = /^sha256:[0-9a-f]{64}$/;

/** Which rule `key` breaks as a label key (Kubernetes' qualified name: `[prefix/]name`), or undefined. */
export function labelKeyRuleBroken(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return "more than one '/'; a key is [prefix/]name";
  const name = parts.at(-1)!;
  if (parts.length === 2 && !isSubdomain(parts[0]!)) return `its prefix must be ${subdomainRule}`;
  if (name.length > 63 || !labelNamePattern.test(name)) return `its name must be ${labelNameRule}`;
  return undefined;
}

/** Why `key` is not a label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const rule = labelKeyRuleBroken(key);
  return rule && `label key ${JSON.stringify(key.slice(0, 320))}: ${rule}`;
}

/** Whether `value` is a label value (empty, or a label name). */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && labelNamePattern.test(value));
}

/** Why `value` is not a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (isLabelValue(value)) return undefined;
  return `label value ${JSON.stringify(value.slice(0, 80))} must be empty or ${labelNameRule}`;
}

/** A string that passes `problem` (undefined: none), refused with its message otherwise. */
const checkedString = (problem: (text: string) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    const message = problem(text);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

export const labelKeySchema = checkedString(labelKeyProblem);
export const labelValueSchema = checkedString(labelValueProblem);

// A record's own key schema would lose the problem's message (zod reports "Invalid key in record").
export const labelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});

export const enrollRequestSchema = z
  .object({
    fleet: fleetNameSchema,
    device: deviceNameSchema,
    labels: labelsSchema.default({}),
    enrollmentToken: z.string().min(16).max(512),
  })
  .strict();
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export interface EnrollResponse {
  device: string;
  fleet: string;
  /** Shown once; the hub keeps only its hash. */
  token: string;
}

/** What a device is told to run. The ETag of the response is `"<revision>"`. */
export interface Target {
  fleet: string;
  revision: string;
  commit: string;
  bundle: { digest: string; size: number; url: string };
  /** The image rules of the Fleet (for status) and the digests the hub chose for them. */
  rules: PipelineSpec['images'];
  images: ImageStatus[];
}

/** What went wrong, for programs (the agent tells a revoked token from a hub that is down). */
export type ProtocolErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'revoked'
  | 'enrollment-refused'
  | 'forbidden'
  | 'not-found'
  | 'no-revision'
  | 'too-large'
  | 'not-ready'
  | 'shutting-down'
  | 'method-not-allowed'
  | 'throttled'
  | 'internal';

/** The error body of every non-2xx answer. */
export interface ProtocolError {
  error: ProtocolErrorCode;
  message: string;
}

/** The bundle's SHA-256 on its download (hex), besides the ETag: the agent checks the bytes against it. */
export const bundleDigestHeader = 'x-doris-bundle-sha256';

/** Longest a target poll may be held open, seconds. */
export const maxWaitSeconds = 300;

/** Splits a device token into its device name and secret (undefined when malformed). */
export function parseDeviceToken(token: string): { device: string; secret: string } | undefined {
  const dot = token.lastIndexOf('.');
  if (dot <= 0 || dot === token.length - 1 || token.length > 512) return undefined;
  const device = token.slice(0, dot);
  if (!deviceNameSchema.safeParse(device).success) return undefined;
  return { device, secret: token.slice(dot + 1) };
}
