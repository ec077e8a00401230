/**
 * A real headless Chromium (Debian's `chromium` package, installed by the test set-up)
 * driven by playwright-core, for the dashboard's tests and screenshots. No browser is
 * downloaded: the executable is the system's (or $CHROMIUM_PATH).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(', ')}); install Debian's chromium package (npm run testenv -- up does, as root)`);
  return found;
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests may run as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}
