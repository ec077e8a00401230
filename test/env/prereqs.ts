/**
 * Installs what the test environment needs and the machine lacks: Debian packages (when
 * running as root) and the Go-built control plane (into the cache).
 */
import { execFileP } from './proc.js';

/** Command the environment runs -> the Debian package that provides it. */
const debianPackages: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  openssl: 'openssl',
  // Absolute: /usr/sbin is often not on a user's PATH.
  '/usr/sbin/sshd': 'openssh-server',
  'ssh-keygen': 'openssh-client',
  git: 'git',
  go: 'golang-go',
  // The dashboard's tests drive a real headless browser (playwright-core pointed at it).
  chromium: 'chromium',
  // The shipped alert rules (config/prometheus-rules.yaml) are checked and unit-tested with promtool.
  promtool: 'prometheus',
  // `doris completion zsh|fish` scripts are checked by the shells themselves.
  zsh: 'zsh',
  fish: 'fish',
};

async function has(command: string): Promise<boolean> {
  try {
    await execFileP('sh', ['-c', 'command -v "$1"', 'sh', command]);
    return true;
  } catch {
    return false;
  }
}

export async function ensureDebianPackages(log: (line: string) => void): Promise<void> {
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries(debianPackages)) {
    if (!(await has(command))) missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing commands; install these Debian packages (as root): ${missing.join(' ')}`);
  }
  log(`Installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execFileP('apt-get', ['update', '-qq'], { env, maxBuffer: 64 * 1024 * 1024 });
  await execFileP('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
}
