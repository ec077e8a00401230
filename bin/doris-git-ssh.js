#!/usr/bin/env node
/**
 * DORIS's GIT_SSH: git runs this instead of `ssh` for ssh:// and git@host:path URLs (with
 * GIT_SSH_VARIANT=ssh, so it passes `-p PORT`, `-o SendEnv=GIT_PROTOCOL`, the host and the
 * remote command as OpenSSH would take them). It runs the real `ssh` with an argument
 * array — never a shell — pinned to what a controller may do: only the identity DORIS was
 * given, only the known_hosts DORIS was given, strict host-key checking, no agent, no user
 * or system configuration, no prompts, no forwarding, no proxies.
 *
 * The identity and known_hosts files are prepared by src/source/ssh.ts (0600 in a private
 * 0700 folder, removed after each git command) and named by DORIS_SSH_IDENTITY_FILE and
 * DORIS_SSH_KNOWN_HOSTS_FILE. ssh takes the first value it sees for an option, so these
 * options, given before git's, cannot be overridden by them.
 */
import { spawn } from 'node:child_process';

const identity = process.env.DORIS_SSH_IDENTITY_FILE;
const knownHosts = process.env.DORIS_SSH_KNOWN_HOSTS_FILE;
if (!identity || !knownHosts) {
  process.stderr.write('doris-git-ssh: DORIS_SSH_IDENTITY_FILE and DORIS_SSH_KNOWN_HOSTS_FILE must name the identity and known_hosts files\n');
  process.exit(255);
}

const pinned = {
  IdentitiesOnly: 'yes',
  IdentityAgent: 'none',
  StrictHostKeyChecking: 'yes',
  UserKnownHostsFile: knownHosts,
  GlobalKnownHostsFile: '/dev/null',
  CheckHostIP: 'no',
  UpdateHostKeys: 'no',
  BatchMode: 'yes',
  PasswordAuthentication: 'no',
  KbdInteractiveAuthentication: 'no',
  ForwardAgent: 'no',
  ForwardX11: 'no',
  ClearAllForwardings: 'yes',
  PermitLocalCommand: 'no',
  ProxyCommand: 'none',
  ProxyJump: 'none',
  ControlMaster: 'no',
  ControlPath: 'none',
  ConnectTimeout: '30',
  ServerAliveInterval: '15',
  ServerAliveCountMax: '4',
  LogLevel: 'ERROR',
};
const args = ['-F', '/dev/null', '-i', identity, ...Object.entries(pinned).flatMap(([key, value]) => ['-o', `${key}=${value}`]), ...process.argv.slice(2)];

const child = spawn('ssh', args, { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  process.stderr.write(`doris-git-ssh: could not run ssh: ${error.message}\n`);
  process.exit(255);
});
child.on('exit', (code, signal) => process.exit(signal ? 255 : (code ?? 255)));
