/**
 * The cluster dashboard in a real headless Chromium, served by a real `doris run` that runs
 * as the shipped ServiceAccount against the real control plane: login and roles, a healthy
 * Pipeline's waves, steps and objects, a wave that times out, a pushed commit appearing
 * without a reload, Sync now / Suspend / Resume, HTML in names and messages shown as text,
 * CSRF and forged requests refused, and not one request to another host.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import type { KubeHttp } from '../../src/kube/http.js';
import { githubSignature } from '../../src/server/github.js';
import { launchChromium, loggedInContext, openLive } from '../env/browser.js';
import { doris, startController, type RunningController } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const ctl = `doris-ui-${run}`;
const appNs = `e2e-ui-${run}`;
const stuckNs = `e2e-ui-stuck-${run}`;
const secret = () => `${run}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const operatorToken = `op-${secret()}`;
const viewerToken = `view-${secret()}`;
const webhookSecret = `whsec-${secret()}`;
const hostileName = '<img src=x onerror="window.__xss=1">';
let repoUrl: string;
let kubeconfig: string;
let controller: RunningController;
let proxied: RunningController | undefined;
const secretFiles: string[] = [];
let browser: Browser;
/** Every URL any page of the suite requested. */
const requested: string[] = [];

const cm = (name: string, value: string) => configMapYaml(appNs, name, { value });

async function pipelineSpec(name: string): Promise<{ suspend?: boolean; git: Record<string, unknown> }> {
  const res = await api.request<{ spec: { suspend?: boolean; git: Record<string, unknown> } }>(
    'GET',
    `/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/${name}`,
  );
  return res.body.spec;
}

async function syncCount(pipeline: string): Promise<number> {
  const text = await (await fetch(`${controller.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('doris_syncs_total{') && l.includes(`pipeline="${pipeline}"`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

function context(token: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  return loggedInContext(browser, controller.url, token, requested, viewport);
}

const open = openLive;

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url: repoUrl } = await createRepo(env, 'ui', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/120-config.yml': cm('settings', 'v1'),
    'deploy/2-app/170-web.yml': deploymentYaml({ namespace: appNs, name: 'web', image: 'registry.example/web:1' }),
  }));
  const { url: stuckUrl } = await createRepo(env, 'ui-stuck', {
    'deploy/1-base/10-ns.yml': namespaceYaml(stuckNs),
    // No node matches: the wave waits until its timeout.
    'deploy/1-base/170-stuck.yml': deploymentYaml({
      namespace: stuckNs,
      name: 'stuck-web',
      image: 'registry.example/web:1',
      pod: '      nodeSelector: {nowhere: "true"}\n',
    }),
  });
  const { url: hostileUrl } = await createRepo(env, 'ui-hostile', {
    'deploy/1-base/120-config.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: '${hostileName}'\n  namespace: ${appNs}\ndata: {a: b}\n`,
  });
  await bootstrapInstall(env, ctl, repoUrl, 'web');
  kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
  const { git } = await pipelineSpec('web');
  await applyPipelineAsAdmin(api, ctl, 'stuck', { git: { ...git, url: stuckUrl }, wait: { timeout: '3s' } });
  await applyPipelineAsAdmin(api, ctl, 'hostile', { git: { ...git, url: hostileUrl } });
  const file = (name: string, text: string) => {
    const path = join(env.TESTENV_DIR, `${name}-${run}`);
    writeFileSync(path, text, { mode: 0o600 });
    secretFiles.push(path);
    return path;
  };
  controller = startController(
    env,
    [
      '--namespace',
      ctl,
      '--ui-auth',
      'token',
      '--ui-token-file',
      file('ui-operator', operatorToken),
      '--ui-viewer-token-file',
      file('ui-viewer', viewerToken),
      '--webhook-secret-file',
      file('ui-whsec', webhookSecret),
      // Syncs happen when asked (first sight, webhook, Sync now) and on failure backoff only.
      '--poll-interval',
      '10m',
    ],
    { kubeconfig, port: await freePort() },
  );
  await waitFor('controller ready', async () => (await fetch(`${controller.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await controller?.stop();
  await proxied?.stop();
  await removeInstall(api, ctl, kubeconfig, [appNs, stuckNs]);
  for (const file of secretFiles) rmSync(file, { force: true });
  api.close();
});

describe('the cluster dashboard in headless Chromium', () => {
  it('asks for a login, and refuses the API without credentials', async () => {
    const page = await fetch(`${controller.url}/`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/login/);
    const apiRes = await fetch(`${controller.url}/api/pipelines`);
    assert.equal(apiRes.status, 401);
    const bearer = await fetch(`${controller.url}/api/pipelines`, { headers: { authorization: `Bearer ${viewerToken}` } });
    assert.equal(bearer.status, 200);
    const names = ((await bearer.json()) as { pipelines: Array<{ name: string }> }).pipelines.map((p) => p.name);
    assert.deepEqual(names, ['hostile', 'stuck', 'web']);
    const wrong = await fetch(`${controller.url}/api/pipelines`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
  });

  it('a healthy Pipeline: its waves, steps and objects with live health and the last action', async () => {
    const ctx = await context(operatorToken);
    const list = await open(ctx, '/');
    const card = list.locator('section.card', { has: list.locator('a:text-is("web")') });
    await card.locator('.badge:text("Ready")').waitFor({ timeout: 60_000 });
    const page = await open(ctx, '/pipelines/web');
    const row = (name: string) => page.locator('tr', { has: page.locator(`td.mono:text-is("${appNs}/${name}")`) });
    await row('web').locator('.badge:text("Current")').waitFor({ timeout: 60_000 });
    assert.match((await row('web').textContent()) ?? '', /Deployment[\s\S]*Current[\s\S]*(created|unchanged)/);
    assert.match((await row('settings').textContent()) ?? '', /ConfigMap[\s\S]*Current[\s\S]*(created|unchanged)/);
    const waves = await page.locator('section.wave h3').allTextContents();
    assert.deepEqual(
      waves.map((w) => w.split(/\s+/).slice(0, 2).join(' ')),
      ['Wave 1-base', 'Wave 2-app'],
    );
    const steps = await page.locator('section.wave tr.step th').allTextContents();
    assert.deepEqual(steps, ['Step 10', 'Step 120', 'Step 170']);
    assert.match(await page.locator('#history').evaluate((h) => h.nextElementSibling?.textContent ?? ''), /Succeeded/);
    // On a phone: nothing wider than the screen but the tables' own scroll areas.
    await page.setViewportSize({ width: 390, height: 844 });
    const widths = await page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return [root.scrollWidth, root.clientWidth];
    });
    assert.ok(widths[0]! <= widths[1]!, `the page is ${widths[0]} px wide on a 390 px screen`);
    await ctx.close();
  });

  it('shows a commit pushed while the page is open, without reloading it', async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, '/pipelines/web');
    await page.evaluate(() => {
      (globalThis as unknown as { stayed: boolean }).stayed = true;
    });
    const commit = await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('settings', 'v2') }, 'v2');
    const body = JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: repoUrl } });
    const hook = await fetch(`${controller.url}/hooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': githubSignature(webhookSecret, Buffer.from(body)) },
      body,
    });
    assert.equal(hook.status, 202);
    await page.locator(`dd code:text-is("${commit}")`).first().waitFor({ timeout: 30_000 });
    const settings = page.locator('tr', { has: page.locator(`td.mono:text-is("${appNs}/settings")`) });
    await settings.locator('.badge:text("configured")').waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'the page was reloaded');
    await ctx.close();
  });

  it('shows what a sync would change, field by field, when asked, and writes nothing', async () => {
    const ctx = await context(viewerToken);
    const commit = await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('settings', 'v3') }, 'v3');
    const page = await ctx.newPage();
    await page.goto('/pipelines/web');
    await Promise.all([page.waitForURL('**/pipelines/web/changes'), page.click('text=What would a sync change?')]);
    assert.match((await page.locator('main p').nth(1).textContent()) ?? '', new RegExp(`Branch head ${commit}: 1 object\\(s\\) would change`));
    const row = page.locator('tr', { has: page.locator(`td.mono:text-is("ConfigMap ${appNs}/settings")`) });
    assert.match((await row.textContent()) ?? '', /update[\s\S]*data\.value: "v2" → "v3"/);
    const live = await api.request<{ data: { value: string } }>('GET', `/api/v1/namespaces/${appNs}/configmaps/settings`);
    assert.equal(live.body.data.value, 'v2', 'the preview wrote nothing');
    await ctx.close();
  });

  it('Sync now triggers a sync, and the page shows it', async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, '/pipelines/web');
    await page.locator('#last-sync').waitFor();
    const before = await syncCount('web');
    const clicked = Date.now();
    // With the keyboard alone: Tab to the button, Enter.
    const focused = () =>
      page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent);
    for (let i = 0; i < 20 && (await focused()) !== 'Sync now'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Sync now');
    await page.keyboard.press('Enter');
    await waitFor('the sync asked for', async () => (await syncCount('web')) > before, { timeoutMs: 30_000 });
    await waitFor(
      'the page shows the new sync',
      async () => Date.parse((await page.locator('#last-sync time').getAttribute('datetime')) ?? '') >= clicked - 1000,
      {
        timeoutMs: 10_000,
      },
    );
    assert.match((await page.locator('#last-sync').textContent()) ?? '', /Last sync .*Succeeded/);
    assert.match((await page.locator('#notice').textContent()) ?? '', /sync of web requested/);
    await ctx.close();
  });

  it('Suspend and Resume set spec.suspend, and the page follows', async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, '/pipelines/web');
    await page.click('button:text("Suspend")');
    await waitFor('spec.suspend true', async () => (await pipelineSpec('web')).suspend === true, { timeoutMs: 10_000 });
    await page.locator('h1 .badge:text("Suspended")').waitFor({ timeout: 20_000 });
    await page.click('button:text("Resume")');
    await waitFor('spec.suspend false', async () => (await pipelineSpec('web')).suspend === false, { timeoutMs: 10_000 });
    await page.locator('h1 .badge:text("Ready")').waitFor({ timeout: 30_000 });
    await ctx.close();
  });

  it('a wave that times out: the failing object and its message are on the detail page', async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, '/pipelines/stuck');
    await page.locator('#ready-message:has-text("HealthCheckFailed")').waitFor({ timeout: 60_000 });
    assert.match((await page.locator('#ready-message').textContent()) ?? '', /timed out waiting for: Deployment .*stuck-web/);
    const row = page.locator('tr', { has: page.locator(`td.mono:text-is("${stuckNs}/stuck-web")`) });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Deployment[\s\S]*InProgress[\s\S]*Waiting for rollout to finish/);
    await page.goto('/');
    const card = page.locator('section.card', { has: page.locator('a:text-is("stuck")') });
    assert.match((await card.textContent()) ?? '', /Not ready[\s\S]*HealthCheckFailed/);
    await ctx.close();
  });

  it('a viewer sees everything but cannot act: no button, and a forged POST is refused', async () => {
    const ctx = await context(viewerToken);
    const page = await open(ctx, '/pipelines/web');
    await page.locator('text=Viewer: actions need the operator role.').waitFor();
    assert.equal(await page.locator('button:text("Sync now")').count(), 0);
    assert.equal(await page.locator('button:text("Suspend")').count(), 0);
    const before = await syncCount('web');
    // The viewer's own CSRF token (from the logout form) makes the forgery as good as it gets.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const status = await page.evaluate(async (token) => {
      const res = await fetch('/pipelines/web/sync', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `csrf=${encodeURIComponent(token)}`,
      });
      return res.status;
    }, csrf);
    assert.equal(status, 403);
    const bearer = await fetch(`${controller.url}/api/pipelines/web/sync`, { method: 'POST', headers: { authorization: `Bearer ${viewerToken}` } });
    assert.equal(bearer.status, 403);
    const suspend = await fetch(`${controller.url}/api/pipelines/web/suspend`, { method: 'POST', headers: { authorization: `Bearer ${viewerToken}` } });
    assert.equal(suspend.status, 403);
    assert.equal((await pipelineSpec('web')).suspend, false);
    assert.equal(await syncCount('web'), before, 'a refused POST synced');
    await ctx.close();
  });

  it('an operator cookie without the CSRF token, or from another site, is refused', async () => {
    const ctx = await context(operatorToken);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const page = await open(ctx, '/pipelines/web');
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${controller.url}/pipelines/web/sync`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    assert.equal((await post({}, '')).status, 403, 'no token');
    assert.equal((await post({}, 'csrf=forged')).status, 403, 'a wrong token');
    assert.equal((await post({ origin: 'http://evil.example' }, `csrf=${encodeURIComponent(csrf)}`)).status, 403, 'another origin');
    assert.equal((await post({ 'sec-fetch-site': 'cross-site' }, `csrf=${encodeURIComponent(csrf)}`)).status, 403, 'cross-site');
    assert.equal((await post({}, `csrf=${encodeURIComponent(csrf)}`)).status, 303, 'the real form is accepted');
    await ctx.close();
  });

  it('shows an object name and a message holding HTML as text', async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, '/pipelines/hostile');
    await page.locator('#ready-message').waitFor({ timeout: 60_000 });
    const text = (await page.locator('#ready-message').textContent()) ?? '';
    assert.ok(text.includes(hostileName), text);
    const list = await open(ctx, '/');
    assert.ok(((await list.locator('section.card', { has: list.locator('a:text-is("hostile")') }).textContent()) ?? '').includes('<img src=x'));
    for (const p of [page, list]) {
      assert.equal(await p.locator('main img').count(), 0, 'markup from the repository was rendered');
      assert.equal(await p.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
    }
    await ctx.close();
  });

  it('sends no request to another host; pages are small and framed by nobody', async () => {
    assert.ok(requested.length > 20, `only ${requested.length} requests recorded`);
    const foreign = requested.filter((u) => !u.startsWith(`${controller.url}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    const ctx = await context(operatorToken);
    const page = await ctx.newPage();
    const bodies: Array<Promise<number>> = [];
    page.on('response', (res) => {
      // The event stream never ends; what it carries is counted by the pages it makes the page fetch.
      if (!res.url().includes('/events')) bodies.push(res.body().then((b) => b.length));
    });
    const res = await page.goto('/pipelines/web');
    await page.waitForSelector('#live:text("live")');
    const bytes = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
    assert.ok(bodies.length >= 3, `${bodies.length} responses: the page, its stylesheet and its script`);
    assert.ok(bytes > 0 && bytes < 150 * 1024, `the page transferred ${bytes} bytes`);
    const headers = res!.headers();
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
    console.log(`detail page: ${bytes} bytes in all`);
    await ctx.close();
  });

  it('a controller with open pages stops at once on SIGTERM: their event streams end first', async () => {
    const ctx = await context(viewerToken);
    await open(ctx, '/');
    await open(ctx, '/pipelines/web');
    const started = Date.now();
    const result = await controller.stop('SIGTERM');
    const ms = Date.now() - started;
    assert.equal(result.code, 0);
    assert.doesNotMatch(controller.logs(), /connectionsCut/, 'connections had to be cut');
    assert.ok(ms < 2_000, `stopped after ${ms} ms`);
    await ctx.close();
  });

  it('behind an auth proxy (trusted: 127.0.0.1): user and group headers give the roles of the allow-lists; CSRF per user', async () => {
    proxied = startController(
      env,
      [
        '--namespace',
        ctl,
        '--ui-auth',
        'proxy',
        '--ui-proxy-trusted',
        '127.0.0.1',
        '--ui-proxy-viewer-users',
        '*',
        '--ui-proxy-operator-groups',
        'platform',
        '--poll-interval',
        '10m',
      ],
      { kubeconfig, port: await freePort() },
    );
    const base = proxied.url;
    await waitFor('controller ready', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
    const as = (user?: string, groups?: string) => ({
      ...(user ? { 'x-forwarded-user': user } : {}),
      ...(groups ? { 'x-forwarded-groups': groups } : {}),
    });
    assert.equal((await fetch(`${base}/api/pipelines`, { headers: as() })).status, 401, 'no user header');
    assert.equal((await fetch(`${base}/api/pipelines`, { headers: as('carol') })).status, 200, 'any user is a viewer');
    const csrfOf = async (headers: Record<string, string>) =>
      /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${base}/pipelines/web`, { headers })).text())?.[1];
    assert.equal(await csrfOf(as('carol')), undefined, 'a viewer gets no action form');
    const form = (headers: Record<string, string>, csrf: string) =>
      fetch(`${base}/pipelines/web/sync`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: `csrf=${encodeURIComponent(csrf)}`,
      });
    const operator = as('dave', 'staff, platform');
    const csrf = await csrfOf(operator);
    assert.ok(csrf, 'an operator gets the action forms');
    assert.equal((await form(as('carol'), csrf)).status, 403, "a viewer with an operator's token");
    assert.equal((await form(as('erin', 'platform'), csrf)).status, 403, "another operator's token");
    await waitFor('this replica leads', async () => (await form(operator, csrf)).status === 202, { timeoutMs: 30_000 });
    await proxied.stop();
  });

  it('--ui-auth none on an address other than loopback is a usage error (exit 2)', async () => {
    const none = await doris(env, ['run', '--namespace', ctl, '--listen', '0.0.0.0:0', '--ui-auth', 'none']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /--ui-auth none/);
    const proxy = await doris(env, ['run', '--namespace', ctl, '--listen', '0.0.0.0:0', '--ui-auth', 'proxy']);
    assert.equal(proxy.code, 2, proxy.stderr);
    assert.match(proxy.stderr, /--ui-proxy-trusted/);
  });
});
