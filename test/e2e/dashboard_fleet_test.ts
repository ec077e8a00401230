/**
 * The fleet view in a real headless Chromium, served by a real `doris hub` that runs as its
 * own ServiceAccount (test/env/hub.ts) against the real control plane, with a Fleet following
 * a real repository and image of the test environment, a staged rollout (canary, then the
 * rest), and three simulated devices speaking the real device protocol (HubClient: target,
 * report), enrolled as bench/hub.ts does (Devices with their token hashes).
 *
 * Proven: login and roles; the protocol routes and webhooks keep their own rules (a dashboard
 * cookie is nothing to them); stages with revisions and counts; a report appearing without a
 * reload; a hostile report shown as text; the device filter; a viewer cannot act (no button,
 * forged POSTs refused); an operator's Pause sets the Fleet's command annotation and the page
 * shows Paused; CSRF; no request to another host; a hub with open pages stops at once.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type Fleet, fleetLabel } from '../../src/api/hub.js';
import { commandAnnotation } from '../../src/hub/rollout/driver.js';
import { hashToken, newDeviceToken } from '../../src/hub/tokens.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { HubClient } from '../../src/source/hub.js';
import { launchChromium, loggedInContext, openLive } from '../env/browser.js';
import { doris, type RunningController } from '../env/doris.js';
import { appFiles, createFleet, type HubSetup, removeHub, setupHub, startHub } from '../env/hub.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let hub: HubSetup;
let running: RunningController;
let browser: Browser;
let repoUrl: string;
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const fleetName = 'solar';
const secret = () => `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const operatorToken = `op-${run}-${secret()}`;
const viewerToken = `view-${run}-${secret()}`;
const hostile = '<img src=x onerror="window.__xss=1">';
const secretFiles: string[] = [];
/** Every URL any page of the suite requested. */
const requested: string[] = [];

interface SimDevice {
  name: string;
  labels: Record<string, string>;
  client: HubClient;
}
const sims: SimDevice[] = [];
const sim = (name: string) => sims.find((s) => s.name === name)!;

const fleetPath = () => `/apis/hub.doris.dev/v1alpha1/namespaces/${hub.namespace}/fleets/${fleetName}`;
async function readFleet(): Promise<Fleet> {
  return (await api.request<Fleet>('GET', fleetPath())).body;
}
const rolloutOf = async () => (await readFleet()).status?.rollout as { state?: string; stage?: string; revision?: string } | undefined;

/** What an agent does after a sync: asks its target and reports the outcome on it. */
async function report(device: SimDevice, ready: 'True' | 'False', message: string, extra: { reason?: string; agentVersion?: string } = {}): Promise<string> {
  const answer = await device.client.target(fleetName, undefined, 0);
  assert.ok(answer, `no target for ${device.name}`);
  const { target } = answer;
  await device.client.report(fleetName, device.name, {
    revision: target.revision,
    commit: target.commit,
    ready,
    reason: extra.reason ?? (ready === 'True' ? 'Succeeded' : 'HealthCheckFailed'),
    message,
    counts: { created: 2, configured: 0, unchanged: 0, recreated: 0, pruned: 0 },
    images: target.images.flatMap((i) => (i.digest ? [{ repository: i.repository, digest: i.digest }] : [])),
    agentVersion: extra.agentVersion ?? '0.1.0',
  });
  return target.revision;
}

function context(token: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  return loggedInContext(browser, running.url, token, requested, viewport);
}

const open = openLive;

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  hub = await setupHub(env, api, `hub-ui-${run}`);
  const image = `${env.REGISTRY}/acme/fleet-ui-${run}`;
  await pushTestImage(env, `acme/fleet-ui-${run}`, 'main', `fleet-ui-v1-${run}`);
  ({ url: repoUrl } = await createRepo(env, 'fleet-ui', appFiles(image, 'v1')));
  // A long soak: once the canary is ready the rollout stays at its stage, where it can be paused.
  await createFleet(api, hub, fleetName, repoUrl, image, {
    stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: '100%', maxFailures: 0, soak: '1h' }],
  });
  for (const [name, labels] of [
    ['canary-1', { ring: 'canary', site: 'north' }],
    ['edge-1', { ring: 'rest', site: 'north' }],
    ['edge-2', { ring: 'rest', site: 'south' }],
  ] as const) {
    const token = newDeviceToken(name);
    await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${hub.namespace}/devices`, {
      body: {
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Device',
        metadata: { name, labels: { ...labels, [fleetLabel]: fleetName } },
        spec: { fleet: fleetName, tokenHash: hashToken(token) },
      },
    });
    sims.push({ name, labels, client: new HubClient(hub.url, token) });
  }
  const file = (name: string, text: string) => {
    const path = join(env.TESTENV_DIR, `${name}-${run}`);
    writeFileSync(path, text, { mode: 0o600 });
    secretFiles.push(path);
    return path;
  };
  running = await startHub(env, hub, [
    '--ui-auth',
    'token',
    '--ui-token-file',
    file('hub-ui-op', operatorToken),
    '--ui-viewer-token-file',
    file('hub-ui-view', viewerToken),
  ]);
  // The first revision is the fleet's baseline (no rollout to stage); every device runs it.
  await waitFor('the first revision', async () => (await rolloutOf())?.state === 'Complete', { timeoutMs: 90_000 });
  for (const s of sims) await report(s, 'True', 'applied');
  // A second commit: a staged rollout, which stops at the canary (it soaks for an hour).
  await pushFiles(env, repoUrl, appFiles(image, 'v2'), 'v2');
  const first = (await rolloutOf())?.revision;
  await waitFor(
    'the rollout of the second commit at the canary',
    async () => {
      const r = await rolloutOf();
      return r?.state === 'Progressing' && r.stage === 'canary' && r.revision !== first;
    },
    { timeoutMs: 90_000 },
  );
  await waitFor('the canary told the new revision', async () => (await report(sim('canary-1'), 'True', 'applied v2')) !== first, { timeoutMs: 30_000 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (hub) await removeHub(api, hub, running);
  for (const file of secretFiles) rmSync(file, { force: true });
  api?.close();
});

describe('the fleet view of doris hub in headless Chromium', () => {
  it('asks for a login; the API needs credentials; the device protocol, webhooks, health and metrics keep their own rules', async () => {
    const page = await fetch(`${running.url}/`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/login/);
    assert.equal((await fetch(`${running.url}/api/fleets`)).status, 401);
    const viewer = await fetch(`${running.url}/api/fleets`, { headers: { authorization: `Bearer ${viewerToken}` } });
    assert.equal(viewer.status, 200);
    assert.deepEqual(
      ((await viewer.json()) as { fleets: Array<{ name: string }> }).fleets.map((f) => f.name),
      [fleetName],
    );
    // A dashboard session is nothing to the device API: it wants a device token, and says so in its own way.
    const ctx = await context(viewerToken);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    await ctx.close();
    const target = await fetch(`${running.url}/v1/fleets/${fleetName}/target`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(target.status, 401);
    assert.equal(((await target.json()) as { error: string }).error, 'unauthorized');
    const hook = await fetch(`${running.url}/hooks/github`, { method: 'POST', headers: { cookie, 'x-github-event': 'push' }, body: '{}', redirect: 'manual' });
    assert.notEqual(hook.status, 303);
    assert.doesNotMatch(hook.headers.get('content-type') ?? '', /html/);
    assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${running.url}/metrics`)).status, 200);
    // A device's own calls still work alongside the dashboard.
    assert.ok(await sim('edge-1').client.target(fleetName, undefined, 0));
  });

  it('the Fleet: its stages with revisions and counts, the rollout, and the devices', async () => {
    const ctx = await context(operatorToken);
    const list = await open(ctx, '/');
    const card = list.locator('section.card', { has: list.locator(`a:text-is("${fleetName}")`) });
    await card.locator('.badge:text("Progressing")').waitFor({ timeout: 30_000 });
    assert.match((await card.textContent()) ?? '', /Stage\s*canary \(1 of 2\)[\s\S]*3 devices/);
    const page = await open(ctx, `/fleets/${fleetName}`);
    const canary = page.locator('section.stage[data-stage="canary"]');
    // The leader writes count-only changes every few seconds: the page follows by itself.
    await canary.locator('text=1 of 1 online ready').waitFor({ timeout: 30_000 });
    assert.match((await canary.textContent()) ?? '', /Current[\s\S]*ring=canary[\s\S]*minReady 100% · maxFailures 0 · soak 1h/);
    assert.equal(await canary.locator('progress[aria-label="canary: ready"]').getAttribute('value'), '1');
    const rest = page.locator('section.stage[data-stage="(rest)"]');
    assert.match((await rest.textContent()) ?? '', /Waiting[\s\S]*2 devices · 0 updated/);
    assert.equal(await page.locator('#current-stage').textContent(), 'canary');
    const revisions = await page.locator('#revisions + .table tbody tr').allTextContents();
    assert.equal(revisions.length, 2);
    assert.match(revisions[0]!, /newest[\s\S]*canary/);
    assert.match(revisions[1]!, /\(rest\)/);
    const rows = page.locator('table.devices tbody tr');
    assert.equal(await rows.count(), 3);
    assert.match((await page.locator('#events + .table').textContent()) ?? '', /Rollout/);
    // On a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const widths = await page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return [root.scrollWidth, root.clientWidth];
    });
    assert.ok(widths[0]! <= widths[1]!, `the page is ${widths[0]} px wide on a 390 px screen`);
    await ctx.close();
  });

  it('filters devices by label selector and state, with the keyboard', async () => {
    const ctx = await context(viewerToken);
    const page = await open(ctx, `/fleets/${fleetName}`);
    await page.focus('#selector');
    await page.keyboard.type('site=north');
    await Promise.all([page.waitForURL(/selector=site%3Dnorth/), page.keyboard.press('Enter')]);
    const names = async () => page.locator('table.devices tbody tr td:first-child').allTextContents();
    assert.deepEqual((await names()).sort(), ['canary-1', 'edge-1']);
    await page.goto(`/fleets/${fleetName}?selector=${encodeURIComponent('ring in (rest)')}&state=ready`);
    assert.deepEqual((await names()).sort(), ['edge-1', 'edge-2']);
    await page.goto(`/fleets/${fleetName}?selector=${encodeURIComponent(`${hostile}=1`)}`);
    assert.match((await page.locator('main [role=alert]').textContent()) ?? '', /is not a label key/);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.inputValue('#selector'), `${hostile}=1`);
    await ctx.close();
  });

  it('a device report changes: the Fleet page and the device page show it without a reload', async () => {
    const ctx = await context(viewerToken);
    const fleetPage = await open(ctx, `/fleets/${fleetName}`);
    const devicePage = await open(ctx, `/fleets/${fleetName}/devices/edge-2`);
    for (const p of [fleetPage, devicePage]) {
      await p.evaluate(() => {
        (globalThis as unknown as { stayed: boolean }).stayed = true;
      });
    }
    await report(sim('edge-2'), 'False', 'Deployment/app: 0 of 1 replicas available (ImagePullBackOff)');
    await devicePage.locator('#report-message:has-text("ImagePullBackOff")').waitFor({ timeout: 15_000 });
    assert.match((await devicePage.locator('#device-state').textContent()) ?? '', /Failed/);
    const row = fleetPage.locator('table.devices tbody tr', { has: fleetPage.locator('a:text-is("edge-2")') });
    await row.locator('text=ImagePullBackOff').waitFor({ timeout: 15_000 });
    assert.match((await row.textContent()) ?? '', /Failed/);
    await fleetPage.locator('#fleet-counts:has-text("1 failed")').waitFor({ timeout: 15_000 });
    for (const p of [fleetPage, devicePage])
      assert.equal(await p.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'the page was reloaded');
    await ctx.close();
  });

  it('a hostile report (HTML in the message, reason and agent version) is shown as text', async () => {
    await report(sim('edge-1'), 'True', `all good ${hostile}`, { reason: `Ok${hostile}`.slice(0, 64), agentVersion: `<b>9</b>` });
    const ctx = await context(operatorToken);
    const device = await open(ctx, `/fleets/${fleetName}/devices/edge-1`);
    await device.locator('#report-message:has-text("all good")').waitFor({ timeout: 15_000 });
    assert.ok(((await device.locator('#report-message').textContent()) ?? '').includes(`all good ${hostile}`));
    assert.ok(((await device.locator('main').textContent()) ?? '').includes('<b>9</b>'));
    const fleetPage = await open(ctx, `/fleets/${fleetName}`);
    const row = fleetPage.locator('table.devices tbody tr', { has: fleetPage.locator('a:text-is("edge-1")') });
    assert.ok(((await row.textContent()) ?? '').includes(hostile));
    for (const p of [device, fleetPage]) {
      assert.equal(await p.locator('main img').count(), 0, 'markup from a device was rendered');
      assert.equal(await p.locator('main b').count(), 0, 'markup from a device was rendered');
      assert.equal(await p.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
    }
    await ctx.close();
  });

  it('a viewer sees everything but cannot act: no button, and forged POSTs are refused', async () => {
    const before = (await readFleet()).metadata.annotations?.[commandAnnotation];
    const ctx = await context(viewerToken);
    const page = await open(ctx, `/fleets/${fleetName}`);
    await page.locator('text=Viewer: promote, pause, resume and abort need the operator role.').waitFor();
    for (const label of ['Promote', 'Pause', 'Resume', 'Abort']) assert.equal(await page.locator(`button:text-is("${label}")`).count(), 0, label);
    // The viewer's own CSRF token (from the logout form) makes the forgery as good as it gets.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const status = await page.evaluate(async (token) => {
      const res = await fetch('/fleets/solar/pause', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `csrf=${encodeURIComponent(token)}`,
      });
      return res.status;
    }, csrf);
    assert.equal(status, 403);
    for (const verb of ['promote', 'pause', 'abort']) {
      const res = await fetch(`${running.url}/api/fleets/${fleetName}/${verb}`, { method: 'POST', headers: { authorization: `Bearer ${viewerToken}` } });
      assert.equal(res.status, 403, verb);
    }
    assert.equal((await readFleet()).metadata.annotations?.[commandAnnotation], before, 'a refused POST wrote the command');
    await ctx.close();
  });

  it('an operator cookie without the CSRF token, or from another site, is refused', async () => {
    const ctx = await context(operatorToken);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const page = await open(ctx, `/fleets/${fleetName}`);
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const before = (await readFleet()).metadata.annotations?.[commandAnnotation];
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${running.url}/fleets/${fleetName}/abort`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    assert.equal((await post({}, '')).status, 403, 'no token');
    assert.equal((await post({}, 'csrf=forged')).status, 403, 'a wrong token');
    assert.equal((await post({ origin: 'http://evil.example' }, `csrf=${encodeURIComponent(csrf)}`)).status, 403, 'another origin');
    assert.equal((await post({ 'sec-fetch-site': 'cross-site' }, `csrf=${encodeURIComponent(csrf)}`)).status, 403, 'cross-site');
    assert.equal((await readFleet()).metadata.annotations?.[commandAnnotation], before);
    await ctx.close();
  });

  it("an operator's Pause sets the Fleet's command annotation, and the page shows Paused; Resume with the keyboard", async () => {
    const ctx = await context(operatorToken);
    const page = await open(ctx, `/fleets/${fleetName}`);
    const clicked = Date.now();
    await page.click('button:text-is("Pause")');
    const annotation = await waitFor(
      'the command annotation',
      async () => {
        const value = (await readFleet()).metadata.annotations?.[commandAnnotation];
        return value?.startsWith('pause@') && Date.parse(value.slice('pause@'.length)) >= clicked - 1000 ? value : undefined;
      },
      { timeoutMs: 10_000 },
    );
    await page.locator('#rollout-state .badge:text("Paused")').waitFor({ timeout: 30_000 });
    assert.equal((await rolloutOf())?.state, 'Paused');
    assert.match((await page.locator('#notice').textContent()) ?? '', /pause of solar requested/);
    assert.match(annotation, /^pause@\d{4}-/);
    const focused = () =>
      page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent);
    for (let i = 0; i < 30 && (await focused()) !== 'Resume'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Resume');
    await page.keyboard.press('Enter');
    await page.locator('#rollout-state .badge:text("Progressing")').waitFor({ timeout: 30_000 });
    await ctx.close();
  });

  it('sends no request to another host; pages are small and framed by nobody', async () => {
    assert.ok(requested.length > 20, `only ${requested.length} requests recorded`);
    const foreign = requested.filter((u) => !u.startsWith(`${running.url}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    const ctx = await context(viewerToken);
    const page = await ctx.newPage();
    const bodies: Array<Promise<number>> = [];
    page.on('response', (res) => {
      if (!res.url().includes('/events')) bodies.push(res.body().then((b) => b.length));
    });
    const res = await page.goto(`/fleets/${fleetName}`);
    await page.waitForSelector('#live:text("live")');
    const bytes = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
    assert.ok(bodies.length >= 3, `${bodies.length} responses: the page, its stylesheet and its script`);
    assert.ok(bytes > 0 && bytes < 150 * 1024, `the page transferred ${bytes} bytes`);
    const headers = res!.headers();
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
    console.log(`fleet page: ${bytes} bytes in all`);
    await ctx.close();
  });

  it('doris hub --ui-auth none off loopback, or proxy without its trusted addresses, is a usage error (exit 2)', async () => {
    const none = await doris(env, ['hub', '--namespace', hub.namespace, '--listen', '0.0.0.0:0', '--insecure-http', '--ui-auth', 'none']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /--ui-auth none/);
    const proxy = await doris(env, ['hub', '--namespace', hub.namespace, '--listen', '0.0.0.0:0', '--insecure-http', '--ui-auth', 'proxy']);
    assert.equal(proxy.code, 2, proxy.stderr);
    assert.match(proxy.stderr, /--ui-proxy-trusted/);
  });

  it('a hub with open pages stops at once on SIGTERM: their event streams end first', async () => {
    const ctx = await context(viewerToken);
    await open(ctx, '/');
    await open(ctx, `/fleets/${fleetName}`);
    const started = Date.now();
    const result = await running.stop('SIGTERM');
    const ms = Date.now() - started;
    assert.equal(result.code, 0);
    assert.doesNotMatch(running.logs(), /connectionsCut/, 'connections had to be cut');
    assert.doesNotMatch(running.logs(), /exiting with work pending/, 'the hub had to be cut short');
    // The hub's own budget (src/cli/hub.ts): past it, it exits anyway and says so (asserted above).
    assert.ok(ms < 4_500, `stopped after ${ms} ms`);
    console.log(
      `hub with two open pages stopped in ${ms} ms: ${
        running
          .logs()
          .split('\n')
          .find((l) => l.includes('"stopped"')) ?? ''
      }`,
    );
    await ctx.close();
  });
});
