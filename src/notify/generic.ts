/**
 * `type: generic`: the notification as JSON, POSTed to the receiver's URL and signed with the
 * Secret's key `secret` (sign.ts). The body is the contract: field names are stable.
 */
import type { NotifyReceiver } from '../api/notify.js';
import { sign, signatureHeader } from './sign.js';
import type { Notification, OutgoingRequest } from './types.js';

export function genericBody(notification: Notification): string {
  const { kind, pipeline, fleet, cluster, commit, reason, message, counts, images, time } = notification;
  return JSON.stringify({
    kind,
    cluster,
    ...(pipeline ? { pipeline } : {}),
    ...(fleet ? { fleet } : {}),
    commit: commit || null,
    reason,
    message,
    ...(counts ? { counts } : {}),
    ...(images?.length ? { images } : {}),
    time,
  });
}

export function genericRequest(receiver: NotifyReceiver, notification: Notification, secret: string): OutgoingRequest {
  const body = genericBody(notification);
  return {
    url: receiver.url!,
    headers: { 'content-type': 'application/json', 'x-doris-event': notification.kind, [signatureHeader.toLowerCase()]: sign(body, secret) },
    body,
  };
}
