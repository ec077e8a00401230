/**
 * `type: slack`: a Slack incoming webhook (`{"text": ...}` with mrkdwn). The webhook URL is
 * itself a credential, so it may come from the Secret's key `address` instead of the spec.
 */
import type { NotifyReceiver } from '../api/notify.js';
import { type Notification, NotificationKinds, type OutgoingRequest, subjectOf } from './types.js';

const icons: Record<string, string> = {
  [NotificationKinds.SyncSucceeded]: ':white_check_mark:',
  [NotificationKinds.ImageRolled]: ':arrows_counterclockwise:',
  [NotificationKinds.SyncFailed]: ':x:',
  [NotificationKinds.HealthFailed]: ':warning:',
  [NotificationKinds.PruneGuard]: ':shield:',
  [NotificationKinds.RolloutHalted]: ':octagonal_sign:',
  [NotificationKinds.RolledBack]: ':rewind:',
  [NotificationKinds.RolloutAborted]: ':no_entry:',
  [NotificationKinds.RolloutCompleted]: ':rocket:',
};

/** Slack's mrkdwn treats &, < and > as markup. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackText(n: Notification): string {
  const commit = n.commit ? ` \`${n.commit.slice(0, 12)}\`` : '';
  const images = n.images?.length ? `\n${n.images.map((i) => `• ${mrkdwn(`${i.repository}:${i.tag}`)} → \`${i.to}\``).join('\n')}` : '';
  const stage = n.fleet?.stage ? ` stage ${mrkdwn(n.fleet.stage)}` : '';
  const failures = n.fleet?.failures?.length ? `\n${n.fleet.failures.map((f) => `• ${mrkdwn(`${f.device}: ${f.reason}: ${f.message}`)}`).join('\n')}` : '';
  return `${icons[n.kind] ?? ''} *${mrkdwn(subjectOf(n))}* ${n.kind}${commit}${stage} (${n.reason})\n${mrkdwn(n.message)}${images}${failures}`;
}

export function slackRequest(receiver: NotifyReceiver, notification: Notification, address?: string): OutgoingRequest {
  return {
    url: address ?? receiver.url!,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: slackText(notification) }),
  };
}
