/**
 * `type: slack`: a Slack incoming webhook (`{"text": ...}` with mrkdwn). The webhook URL is
 * itself a credential, so it may come from the Secret's key `address` instead of the spec.
 */
import type { NotifyReceiver } from '../api/notify.js';
import { type Notification, NotificationKinds, type OutgoingRequest } from './types.js';

const icons: Record<string, string> = {
  [NotificationKinds.SyncSucceeded]: ':white_check_mark:',
  [NotificationKinds.ImageRolled]: ':arrows_counterclockwise:',
  [NotificationKinds.SyncFailed]: ':x:',
  [NotificationKinds.HealthFailed]: ':warning:',
  [NotificationKinds.PruneGuard]: ':shield:',
  [NotificationKinds.RolloutHalted]: ':octagonal_sign:',
};

/** Slack's mrkdwn treats &, < and > as markup. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackText(n: Notification): string {
  const commit = n.commit ? ` \`${n.commit.slice(0, 12)}\`` : '';
  const images = n.images?.length ? `\n${n.images.map((i) => `• ${mrkdwn(`${i.repository}:${i.tag}`)} → \`${i.to}\``).join('\n')}` : '';
  return `${icons[n.kind] ?? ''} *${mrkdwn(`${n.cluster}/${n.pipeline.name}`)}* ${n.kind}${commit} (${n.reason})\n${mrkdwn(n.message)}${images}`;
}

export function slackRequest(receiver: NotifyReceiver, notification: Notification, address?: string): OutgoingRequest {
  return {
    url: address ?? receiver.url!,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: slackText(notification) }),
  };
}
