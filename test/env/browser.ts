/**
 * A real headless Chromium (Debian's `chromium` package, installed by the test set-up)
 * driven by playwright-core, for the dashboard's tests and screenshots. No browser is
 * downloaded: the executable is the system's (or $CHROMIUM_PATH).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

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

/**
 * A browser context logged in to a dashboard at `baseUrl` with `token` (through its login
 * form, as a person would); every request it makes is pushed onto `requested`.
 */
export async function loggedInContext(
  browser: Browser,
  baseUrl: string,
  token: string,
  requested: string[],
  viewport = { width: 1200, height: 900 },
): Promise<BrowserContext> {
  const ctx = await browser.newContext({ baseURL: baseUrl, viewport });
  ctx.on('request', (request) => requested.push(request.url()));
  const page = await ctx.newPage();
  await page.goto('/');
  // Not logged in: the login form.
  assert.match(page.url(), /\/login\?next=/);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click('button[type=submit]')]);
  await page.close();
  return ctx;
}

/** A dashboard page, once its event stream is open (the page says "live"). */
export async function openLive(ctx: BrowserContext, path: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(path);
  await page.waitForSelector('#live:text("live")');
  return page;
}
