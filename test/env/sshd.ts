/**
 * A real OpenSSH server (Debian's openssh-server) on loopback, serving the test repositories
 * read-only over `ssh://`: the same bare repositories the smart-HTTP server serves, so that
 * `$GIT_SSH_BASE_URL/NAME.git` is the repository `new-repo NAME` made.
 *
 * It runs as the current user with its own host key, configuration and authorized key (no
 * PAM, no passwords, no forwarding, no TTY), and every login runs one command only,
 * git-ssh-command.mjs, which serves `git-upload-pack` for a repository under the served
 * folder and refuses anything else. The client side gets a private key and a known_hosts
 * file naming this server's host key, as a Pipeline's Secret would hold them.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { execFileP, startDaemon, waitFor, type Daemon } from './proc.js';

export const sshdPath = '/usr/sbin/sshd';

export interface SshServer {
  daemon: Daemon;
  /** `ssh://<user>@127.0.0.1:<port><reposDir>`: append `/NAME.git`. */
  baseUrl: string;
  /** The client's private key (OpenSSH format, mode 0600). */
  keyFile: string;
  /** One line: this server's host key, for `[127.0.0.1]:<port>`. */
  knownHostsFile: string;
}

/** A new ed25519 key pair at `path` (and `path.pub`); returns the public key line. */
export async function generateKey(path: string, comment: string): Promise<string> {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

/** The known_hosts line for a server on 127.0.0.1:`port` with host key `publicKey` (`type base64 [comment]`). */
export function knownHostsLine(port: number, publicKey: string): string {
  const [type, key] = publicKey.split(/\s+/);
  return `[127.0.0.1]:${port} ${type} ${key}\n`;
}

/** Waits until the server sends its SSH banner. */
function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(2000);
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString('latin1').startsWith('SSH-2.0-'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startSshd(options: { dir: string; port: number; reposDir: string; log: (line: string) => void; name?: string }): Promise<SshServer> {
  const { dir, port, reposDir } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const user = userInfo().username;
  const hostKey = join(dir, 'host_ed25519');
  const keyFile = join(dir, 'client_ed25519');
  const hostPublic = await generateKey(hostKey, 'doris-testenv-sshd');
  const clientPublic = await generateKey(keyFile, 'doris-testenv-client');
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${clientPublic}\n`, { mode: 0o600 });
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, knownHostsLine(port, hostPublic), { mode: 0o600 });
  // sshd runs the forced command with the login shell; the line is fixed here, never built
  // from anything a client sends (the client's request reaches it as SSH_ORIGINAL_COMMAND).
  const command = [process.execPath, join(repoRoot, 'test/env/git-ssh-command.mjs'), reposDir].map((part) => `"${part}"`).join(' ');
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${user}`,
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The state folder lives in the checkout, whose parents this test cannot vouch for.
    'StrictModes no',
    ...(process.getuid?.() === 0 ? ['PermitRootLogin prohibit-password'] : []),
    'DisableForwarding yes',
    'PermitTTY no',
    'PermitUserEnvironment no',
    'PrintMotd no',
    'AcceptEnv GIT_PROTOCOL',
    `ForceCommand ${command}`,
    'LogLevel VERBOSE',
    '',
  ].join('\n');
  const configFile = join(dir, 'sshd_config');
  writeFileSync(configFile, config, { mode: 0o600 });
  // Run as root, sshd separates privileges into a chroot it expects to exist.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await execFileP(sshdPath, ['-t', '-f', configFile]);
  options.log(`sshd on 127.0.0.1:${port}`);
  const daemon = startDaemon(options.name ?? 'sshd', sshdPath, ['-D', '-e', '-f', configFile]);
  await waitFor('sshd', () => banner(port), { daemon, timeoutMs: 20_000 });
  return { daemon, baseUrl: `ssh://${user}@127.0.0.1:${port}${reposDir}`, keyFile, knownHostsFile };
}
