/**
 * Which repository a URL names. GitHub sends a repository's URLs in several forms (https,
 * ssh, scp-like `git@host:path`), and a Pipeline may be written with any of them: comparing
 * them needs one canonical form.
 */

/**
 * A repository URL reduced to `host/path` (lower-case host, no credentials, no `.git`, no
 * trailing slash), so that https, ssh and scp-like forms of one repository compare equal.
 */
export function normalizeRepoUrl(url: string): string {
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(url);
  let host: string;
  let path: string;
  if (scp && !/^[a-z+]+:\/\//i.test(url)) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    try {
      const parsed = new URL(url);
      host = parsed.host;
      path = parsed.pathname;
    } catch {
      return url.toLowerCase();
    }
  }
  return `${host.toLowerCase()}/${path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')}`;
}
