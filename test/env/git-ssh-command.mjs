#!/usr/bin/env node
/**
 * The only command the test sshd runs for a login (its ForceCommand): serves
 * `git-upload-pack '<path>'` for a repository under the served folder, and refuses anything
 * else (a shell, `git-receive-pack`, a path outside the folder). The path is handed to
 * git-upload-pack as one argument; nothing passes through a shell.
 *
 * Plain JavaScript, not TypeScript: it runs once per git command, and tsx's start-up would
 * double the time of every fetch.
 *
 *   node git-ssh-command.mjs <reposDir>   (SSH_ORIGINAL_COMMAND from sshd)
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';

const reposDir = realpathSync(process.argv[2] ?? '.');
const requested = process.env.SSH_ORIGINAL_COMMAND ?? '';

function refuse(why) {
  process.stderr.write(`doris test sshd: ${why}\n`);
  process.exit(1);
}

const match = /^git-upload-pack '([^']+)'$/.exec(requested);
if (!match) refuse(`only git-upload-pack is served (asked: ${requested.slice(0, 80) || 'a shell'})`);
let path;
try {
  path = realpathSync(resolve('/', match[1]));
} catch {
  refuse(`no repository at ${match[1]}`);
}
if (!path.startsWith(reposDir + sep) || !path.endsWith('.git')) refuse(`${match[1]} is not a repository of this server`);

const child = spawn('git-upload-pack', ['--strict', path], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
child.on('error', (error) => refuse(error.message));
