/**
 * The fleet view's pictures: a real `doris hub` (its own ServiceAccount, loopback, no login)
 * with a Fleet of sixteen simulated devices speaking the real device protocol, a staged
 * rollout caught mid-way (canary done and promoted, the early ring half there with one
 * failure, the rest waiting), taken in headless Chromium. Writes docs/screenshots/fleets.png,
 * fleet.png, fleet-device.png and fleet-phone.png. Run by `npm run screenshots`, or alone
 * with `tsx scripts/screenshots-fleet.ts` (the test environment must be up).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { fleetLabel } from '../src/api/hub.js';
import { commandAnnotation } from '../src/hub/rollout/driver.js';
import { hashToken, newDeviceToken } from '../src/hub/tokens.js';
import { KubeHttp } from '../src/kube/http.js';
import { HubClient } from '../src/source/hub.js';
import { launchChromium } from '../test/env/browser.js';
import type { RunningController } from '../test/env/doris.js';
import { appFiles, createFleet, type HubSetup, removeHub, setupHub, startHub } from '../test/env/hub.js';
import { repoRoot } from '../test/env/paths.js';
import { waitFor } from '../test/env/proc.js';
import { createRepo, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../test/env/testenv.js';

const fleetName = 'solar-parks';

interface Sim {
  name: string;
  client: HubClient;
}

export async function shootFleet(env: TestEnv, api: KubeHttp, browser: Browser, out: string, say: (line: string) => void): Promise<void> {
  const namespace = 'doris-screens-hub';
  await waitFor(`namespace ${namespace} gone`, async () => (await api.request('GET', `/api/v1/namespaces/${namespace}`, { accept: [404] })).status === 404, {
    timeoutMs: 120_000,
  });
  let hub: HubSetup | undefined;
  let running: RunningController | undefined;
  try {
    hub = await setupHub(env, api, namespace);
    const image = `${env.REGISTRY}/acme/solar-telegraf`;
    await pushTestImage(env, 'acme/solar-telegraf', 'main', 'telegraf fleet v1');
    const { url } = await createRepo(env, 'solar-parks', appFiles(image, 'interval-10s'));
    await createFleet(api, hub, fleetName, url, image, {
      autoRollback: true,
      stages: [
        { name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: '100%', maxFailures: 0, soak: '10m' },
        { name: 'early', selector: { matchLabels: { ring: 'early' } }, minReady: '75%', maxFailures: 1, soak: '30m' },
      ],
    });
    const sims: Sim[] = [];
    const sites = ['north', 'south', 'east', 'west'];
    for (let i = 1; i <= 16; i++) {
      const ring = i <= 2 ? 'canary' : i <= 6 ? 'early' : 'rest';
      const name = `park-${sites[i % 4]}-${String(i).padStart(2, '0')}`;
      const token = newDeviceToken(name);
      await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${namespace}/devices`, {
        body: {
          apiVersion: 'hub.doris.dev/v1alpha1',
          kind: 'Device',
          metadata: { name, labels: { ring, site: sites[i % 4]!, arch: i % 3 === 0 ? 'amd64' : 'arm64', [fleetLabel]: fleetName } },
          spec: { fleet: fleetName, tokenHash: hashToken(token) },
        },
      });
      sims.push({ name, client: new HubClient(hub.url, token) });
    }
    running = await startHub(env, hub, ['--ui-auth', 'none']);
    const fleetPath = `/apis/hub.doris.dev/v1alpha1/namespaces/${namespace}/fleets/${fleetName}`;
    const rollout = async () =>
      (await api.request<{ status?: { rollout?: { state?: string; stage?: string; revision?: string } } }>('GET', fleetPath)).body.status?.rollout;
    const report = async (sim: Sim, ready: 'True' | 'False', message: string) => {
      const answer = await sim.client.target(fleetName, undefined, 0);
      if (!answer) throw new Error(`no target for ${sim.name}`);
      const { target } = answer;
      await sim.client.report(fleetName, sim.name, {
        revision: target.revision,
        commit: target.commit,
        ready,
        reason: ready === 'True' ? 'Succeeded' : 'HealthCheckFailed',
        message,
        counts: { created: 0, configured: 1, unchanged: 1, recreated: 0, pruned: 0 },
        images: target.images.flatMap((i) => (i.digest ? [{ repository: i.repository, digest: i.digest }] : [])),
        agentVersion: '0.1.0',
      });
      return target.revision;
    };
    say('fleet: the first revision on every device');
    await waitFor('the first revision', async () => (await rollout())?.state === 'Complete', { timeoutMs: 90_000 });
    for (const sim of sims) await report(sim, 'True', 'applied 2 objects; all healthy');
    const first = (await rollout())?.revision;
    say('fleet: a second commit, staged');
    await pushFiles(env, url, appFiles(image, 'interval-30s'), 'telegraf: sample every 30 s');
    await waitFor('the rollout at the canary', async () => {
      const r = await rollout();
      return r?.state === 'Progressing' && r.revision !== first;
    });
    for (const sim of sims.slice(0, 2))
      await waitFor(`${sim.name} on the new revision`, async () => (await report(sim, 'True', 'applied 2 objects; all healthy')) !== first);
    // The canary soaks for ten minutes: promoted by hand, as an operator would.
    await waitFor('the canary ready', async () => (await rollout())?.stage === 'canary');
    await api.request('PATCH', fleetPath, {
      body: { metadata: { annotations: { [commandAnnotation]: `promote@${new Date().toISOString()}` } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('the early ring', async () => (await rollout())?.stage === 'early');
    const early = sims.slice(2, 6);
    await waitFor('early devices on the new revision', async () => (await report(early[0]!, 'True', 'applied 2 objects; all healthy')) !== first);
    await report(early[1]!, 'True', 'applied 2 objects; all healthy');
    await report(early[2]!, 'False', 'timed out waiting for: Deployment app: 0 of 1 updated replicas available (ImagePullBackOff)');
    // Counts are written every few seconds: wait until the page has them.
    await waitFor('the early counts', async () => {
      const stages = (await api.request<{ status?: { rollout?: { stages?: Array<{ name: string; ready: number; failed: number }> } } }>('GET', fleetPath)).body
        .status?.rollout?.stages;
      const e = stages?.find((s) => s.name === 'early');
      return e?.ready === 2 && e.failed === 1;
    });
    const shoot = async (path: string, file: string, viewport: { width: number; height: number }, fullPage: boolean) => {
      const ctx = await browser.newContext({ viewport, colorScheme: 'light', deviceScaleFactor: 1 });
      const page = await ctx.newPage();
      await page.goto(`${running!.url}${path}`);
      await page.waitForSelector('#live:text("live")');
      await page.screenshot({ path: join(out, file), fullPage });
      await ctx.close();
      say(`wrote docs/screenshots/${file}`);
    };
    await shoot('/', 'fleets.png', { width: 1280, height: 600 }, false);
    await shoot(`/fleets/${fleetName}`, 'fleet.png', { width: 1280, height: 900 }, true);
    await shoot(`/fleets/${fleetName}/devices/${early[2]!.name}`, 'fleet-device.png', { width: 1280, height: 800 }, false);
    await shoot(`/fleets/${fleetName}`, 'fleet-phone.png', { width: 390, height: 844 }, false);
  } finally {
    if (hub) await removeHub(api, hub, running).catch(() => undefined);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = loadTestEnv();
  const api = await KubeHttp.fromKubeconfigFile(env.KUBECONFIG);
  const browser = await launchChromium();
  try {
    await shootFleet(env, api, browser, join(repoRoot, 'docs', 'screenshots'), (line) => console.log(`screenshots: ${line}`));
  } finally {
    await browser.close();
    api.close();
  }
}
