/**
 * `type: github`: a commit status on the synced commit (`POST /repos/{owner}/{repo}/statuses/{sha}`),
 * context `doris/<cluster>/<pipeline>`, so that a commit shows on GitHub whether each cluster
 * applied it (a Fleet's rollout: `doris/hub/<fleet>`, failure on a halt, success once complete). The token (key `token` of the Secret) needs `repo:status` (classic) or
 * "Commit statuses: write" (fine-grained). `apiUrl` points at GitHub Enterprise, or a test.
 */
import type { NotifyReceiver } from '../api/notify.js';
import { type Notification, NotificationKinds, type OutgoingRequest, subjectOf } from './types.js';

export const defaultGithubApi = 'https://api.github.com';

/** `owner/repo` of a GitHub repository URL (https, ssh or git@host:path), or undefined. */
export function githubRepository(url: string): { owner: string; repo: string } | undefined {
  let path: string;
  const scp = /^(?:[^@/]+@)?[^:/]+:(?!\/)(.+)$/.exec(url);
  if (scp && !/^[a-z+]+:\/\//i.test(url)) path = scp[1]!;
  else {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  }
  const parts = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '')
    .split('/');
  const valid = (s: string | undefined) => s !== undefined && /^[A-Za-z0-9_.-]+$/.test(s) && s !== '.' && s !== '..';
  if (parts.length !== 2 || !valid(parts[0]) || !valid(parts[1])) return undefined;
  return { owner: parts[0]!, repo: parts[1]! };
}

const states: Record<string, 'success' | 'failure' | 'error'> = {
  [NotificationKinds.SyncSucceeded]: 'success',
  [NotificationKinds.SyncFailed]: 'failure',
  [NotificationKinds.HealthFailed]: 'failure',
  [NotificationKinds.PruneGuard]: 'failure',
  [NotificationKinds.RolloutHalted]: 'failure',
  [NotificationKinds.RolloutCompleted]: 'success',
};

/** GitHub refuses descriptions over 140 characters. */
function description(n: Notification): string {
  const text = `${n.reason}: ${n.message}`.replace(/\s+/g, ' ');
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

/**
 * The status request, or why there is none: a commit status needs a commit, and an image
 * roll does not change what the commit's status says.
 */
export function githubRequest(
  receiver: NotifyReceiver,
  notification: Notification,
  token: string,
  repositoryUrl: string | undefined,
): OutgoingRequest | { skip: string } {
  const state = states[notification.kind];
  if (!state) return { skip: `${notification.kind} does not change a commit status` };
  if (!/^[0-9a-f]{40,64}$/.test(notification.commit)) return { skip: 'no commit to set a status on' };
  const repository = githubRepository(receiver.url ?? repositoryUrl ?? '');
  if (!repository) return { skip: 'no GitHub repository: set url to https://github.com/OWNER/REPO' };
  const api = (receiver.apiUrl ?? defaultGithubApi).replace(/\/+$/, '');
  return {
    url: `${api}/repos/${encodeURIComponent(repository.owner)}/${encodeURIComponent(repository.repo)}/statuses/${notification.commit}`,
    headers: {
      'content-type': 'application/json',
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      state,
      context: `doris/${subjectOf(notification)}`,
      description: description(notification),
      ...(receiver.targetUrl ? { target_url: receiver.targetUrl } : {}),
    }),
  };
}
