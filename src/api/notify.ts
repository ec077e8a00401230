/**
 * `spec.notify[]`: where a Pipeline reports what happened to it (docs/adr/0014-notifications.md).
 * Each entry is a receiver: `generic` (a signed JSON webhook), `slack` (an incoming webhook) or
 * `github` (a commit status on the synced commit). Secrets (the signing key, the token, a
 * Slack webhook address) come from a Secret in the controller namespace, never from the spec.
 */
import { z } from 'zod';

const loopback = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * A receiver's URL: https, or http to loopback only (tests, a sidecar); no credentials in it,
 * because a spec is readable by anyone who may read Pipelines.
 */
export function checkNotifyUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'an https:// URL';
  }
  if (parsed.username || parsed.password) return 'a URL without credentials (they belong in the Secret named by secretRef)';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && loopback.includes(parsed.hostname)) return undefined;
  return `an https:// URL (${parsed.protocol}// is refused; http:// only to loopback)`;
}

const url = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const problem = checkNotifyUrl(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const notifyTypes = ['generic', 'slack', 'github'] as const;
export type NotifyType = (typeof notifyTypes)[number];

export const notifyReceiverSchema = z
  .object({
    type: z.enum(notifyTypes).describe('generic (signed JSON webhook), slack (incoming webhook) or github (commit status).'),
    url: url
      .optional()
      .describe(
        'generic: where the JSON is POSTed; slack: the incoming-webhook URL (or key "address" of the Secret); github: the repository, https://github.com/OWNER/REPO (default: spec.git.url).',
      ),
    secretRef: z
      .object({ name: z.string().min(1).describe('Name of a Secret in the controller namespace.') })
      .optional()
      .describe('generic: key "secret" (the HMAC-SHA256 key of X-Doris-Signature); github: key "token"; slack: optional key "address".'),
    apiUrl: url.optional().describe('github: the API root (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).'),
    targetUrl: url.optional().describe('github: the link shown beside the commit status (a dashboard).'),
  })
  .strict()
  .superRefine((receiver, ctx) => {
    if (receiver.type !== 'slack' && !receiver.secretRef) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretRef'],
        message: `a ${receiver.type} receiver needs a secretRef (${receiver.type === 'generic' ? 'key "secret"' : 'key "token"'})`,
      });
    }
    if (receiver.type === 'generic' && !receiver.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'a generic receiver needs a url' });
    if (receiver.type === 'slack' && !receiver.url && !receiver.secretRef) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'a slack receiver needs a url, or a secretRef whose Secret has key "address"' });
    }
    if (receiver.type !== 'github' && (receiver.apiUrl || receiver.targetUrl)) {
      ctx.addIssue({ code: 'custom', path: [receiver.apiUrl ? 'apiUrl' : 'targetUrl'], message: 'only for type github' });
    }
  });

export type NotifyReceiver = z.infer<typeof notifyReceiverSchema>;

export const notifySchema = z
  .array(notifyReceiverSchema)
  .max(20)
  .default([])
  .describe('Receivers told when a sync applies changes or fails, a wave fails its health check, the prune guard refuses, or an image rolls.');
