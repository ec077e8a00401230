/**
 * git over SSH (docs/adr/0013-git-ssh.md). A Pipeline following an `ssh://` or `git@host:path`
 * URL brings a private key (`identity`) and the server's host keys (`known_hosts`) in its
 * Secret. For each git command that talks to the server, both are written into a fresh
 * private folder (0700, files 0600) under DORIS's work folder and removed when the command
 * ends; git runs bin/doris-git-ssh.js as GIT_SSH, which runs `ssh` with exactly that key and
 * that known_hosts, strict host-key checking and nothing else (no agent, no configuration,
 * no prompts). ssh's own failures are turned into messages that say what is wrong and with
 * which host; key material never reaches a message.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SshCredentials {
  /** The private key, OpenSSH or PEM format, unencrypted. */
  identity: string;
  /** known_hosts lines for the git server: the only host keys accepted. */
  knownHosts: string;
}

/** `ssh://...` and scp-like `[user@]host:path` (git's own rule: a colon before any slash). */
export function isSshUrl(url: string): boolean {
  if (/^ssh:\/\//i.test(url) || /^git\+ssh:\/\//i.test(url)) return true;
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && /^[^/]*:/.test(url);
}

/** `host` or `[host]:port` as ssh names it in known_hosts and in its messages. */
export function sshHostOf(url: string): string {
  if (/^(git\+)?ssh:\/\//i.test(url)) {
    try {
      const parsed = new URL(url.replace(/^git\+/i, ''));
      return parsed.port && parsed.port !== '22' ? `[${parsed.hostname}]:${parsed.port}` : parsed.hostname;
    } catch {
      return url;
    }
  }
  return /^(?:[^@/]+@)?([^:/]+):/.exec(url)?.[1] ?? url;
}

/** Where bin/doris-git-ssh.js is: the package root is above src/source/ (tsx) or dist/ (the bundle). */
function findWrapper(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    const candidate = join(dir, 'bin', 'doris-git-ssh.js');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('bin/doris-git-ssh.js not found beside the DORIS installation: it is needed for git over SSH');
}

let wrapper: string | undefined;

export interface SshSession {
  /** git's environment additions: GIT_SSH and the two file names. */
  env: NodeJS.ProcessEnv;
  /** Removes the key and known_hosts; safe to call twice. */
  dispose(): void;
}

/**
 * Writes the identity and known_hosts for one git command into a private folder under
 * `parent`. ssh reads keys only from files (it refuses a key on a pipe it cannot stat as
 * 0600), so the key touches the disk for the length of one command, readable by DORIS only.
 */
export function openSshSession(credentials: SshCredentials, parent: string): SshSession {
  wrapper ??= findWrapper();
  // ssh splits UserKnownHostsFile at whitespace: such a folder cannot be named to it safely.
  if (/[\s"'\\]/.test(parent)) throw new Error(`git over SSH needs a work folder without spaces or quotes in its path (${JSON.stringify(parent)})`);
  const dir = mkdtempSync(join(parent, '.ssh-'));
  try {
    const identityFile = join(dir, 'identity');
    const knownHostsFile = join(dir, 'known_hosts');
    // The key must end with a newline: OpenSSH refuses a key file without one.
    const identity = credentials.identity.endsWith('\n') ? credentials.identity : `${credentials.identity}\n`;
    writeFileSync(identityFile, identity, { mode: 0o600, flag: 'wx' });
    writeFileSync(knownHostsFile, credentials.knownHosts.endsWith('\n') ? credentials.knownHosts : `${credentials.knownHosts}\n`, { mode: 0o600, flag: 'wx' });
    return {
      env: {
        GIT_SSH: wrapper,
        // The wrapper takes OpenSSH's arguments: without this git guesses "simple" from its name and refuses ports.
        GIT_SSH_VARIANT: 'ssh',
        DORIS_SSH_IDENTITY_FILE: identityFile,
        DORIS_SSH_KNOWN_HOSTS_FILE: knownHostsFile,
      },
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * What ssh's failure means, naming the host; `undefined` when it is not one of the failures
 * a user can fix in the Secret (git's own message is then kept).
 */
export function explainSshFailure(stderr: string, url: string): string | undefined {
  const host = /(?:host key is known for|Host key for) (\S+) (?:and|has)/i.exec(stderr)?.[1] ?? sshHostOf(url);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr) || /Host key for \S+ has changed/i.test(stderr)) {
    const sent = /key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    return `ssh: the host key of ${host} has CHANGED: it does not match known_hosts (a different server, or one that was re-keyed)${sent ? `; the server sent ${sent}` : ''}; refusing to connect. Update known_hosts only if the change is expected`;
  }
  if (/No \S+ host key is known for/i.test(stderr) || /Host key verification failed/i.test(stderr)) {
    return `ssh: the host key of ${host} is not in known_hosts; refusing to connect (strict host-key checking). Add the server's key to known_hosts (ssh-keyscan, checked against a trusted fingerprint)`;
  }
  // OpenSSH refuses to run for a uid without a passwd entry (a container's arbitrary user).
  const uid = /No user exists for uid (\d+)/.exec(stderr)?.[1];
  if (uid) return `ssh cannot run as uid ${uid}: the uid has no /etc/passwd entry (the image must define the user DORIS runs as)`;
  if (/Permission denied \(/i.test(stderr)) {
    return `ssh: ${sshHostOf(url)} refused the SSH identity (Permission denied): its public key is not authorized for this repository`;
  }
  if (/Load key|invalid format|error in libcrypto|incorrect passphrase|passphrase/i.test(stderr)) {
    return `ssh: the SSH identity is not a usable private key (it must be an unencrypted OpenSSH or PEM private key)`;
  }
  if (/Connection refused|Connection timed out|Could not resolve hostname|No route to host/i.test(stderr)) {
    const why = /(Connection refused|Connection timed out|Could not resolve hostname|No route to host)/i.exec(stderr)?.[1];
    return `ssh: cannot reach ${sshHostOf(url)}: ${why}`;
  }
  return undefined;
}
