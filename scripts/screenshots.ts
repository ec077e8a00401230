/**
 * `npm run screenshots`: PNGs of the cluster dashboard for the README, taken in headless
 * Chromium from a real `doris run` against the local test environment (brought up if it is
 * down, and down again afterwards). Two Pipelines: `edge` (four waves, tracked images, an
 * image push and a commit after the first sync, so that history and digests have a story)
 * and `lab`, whose wave times out. Writes docs/screenshots/{cluster,pipeline,pipeline-phone}.png;
 * then the fleet view of a `doris hub` (screenshots-fleet.ts): fleets.png, fleet.png, fleet-device.png, fleet-phone.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../test/env/browser.js';
import { startController } from '../test/env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, serviceAccountKubeconfig } from '../test/env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../test/env/manifests.js';
import { repoRoot } from '../test/env/paths.js';
import { freePort } from '../test/env/ports.js';
import { waitFor } from '../test/env/proc.js';
import { createRepo, pushFiles, pushTestImage } from '../test/env/testenv.js';
import { shootFleet } from './screenshots-fleet.js';
import { withTestEnv } from './test-env-session.js';

const ns = 'doris-screens';
const app = 'monitoring';
const lab = 'lab';
const out = join(repoRoot, 'docs', 'screenshots');
const say = (line: string) => console.log(`screenshots: ${line}`);

function edgeRepo(registry: string, interval: string): Record<string, string> {
  const workload = (name: string) => deploymentYaml({ namespace: app, name, image: `${registry}/acme/shot-${name}:main` });
  const service = (name: string, port: number) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${app}}\nspec:\n  selector: {app: ${name}}\n  ports: [{port: ${port}}]\n`;
  return {
    'deploy/1-base/10-monitoringnamespace.yml': namespaceYaml(app),
    'deploy/1-base/120-settings.yml': configMapYaml(app, 'site', { site: 'solar-park-7' }),
    'deploy/2-influxdb/40-influxdbpvc.yml': `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: influxdb, namespace: ${app}}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n`,
    'deploy/2-influxdb/170-influxdbdeployment.yml': workload('influx'),
    'deploy/2-influxdb/200-influxdbservice.yml': service('influx', 8086),
    'deploy/3-telegraf/120-telegrafconfig.yml': configMapYaml(app, 'telegraf', { interval }),
    'deploy/3-telegraf/170-telegrafdeployment.yml': workload('telegraf'),
    'deploy/4-grafana/170-grafanadeployment.yml': workload('grafana'),
    'deploy/4-grafana/200-grafanaservice.yml': service('grafana', 3000),
  };
}

async function main(): Promise<void> {
  await withTestEnv(ns, [app, lab], async (session) => {
    const { env, api } = session;
    const browser = await launchChromium();
    try {
      // A previous run's namespaces may still be terminating: a sync into them would fail.
      for (const n of [app, lab, ns]) {
        await waitFor(`namespace ${n} gone`, async () => (await api.request('GET', `/api/v1/namespaces/${n}`, { accept: [404] })).status === 404, {
          timeoutMs: 120_000,
        });
      }
      say('pushing images and repositories');
      for (const name of ['influx', 'telegraf', 'grafana']) await pushTestImage(env, `acme/shot-${name}`, 'main', `${name} v1`);
      const { url } = await createRepo(env, 'edge-monitoring', edgeRepo(env.REGISTRY, '10s'));
      const { url: labUrl } = await createRepo(env, 'lab', {
        'deploy/1-base/10-ns.yml': namespaceYaml(lab),
        'deploy/2-app/170-sensor.yml': deploymentYaml({
          namespace: lab,
          name: 'sensor-gateway',
          image: 'registry.example/sensor:2',
          pod: '      nodeSelector: {arch: riscv}\n',
        }),
      });
      await bootstrapInstall(env, ns, url, 'edge');
      const kubeconfig = await serviceAccountKubeconfig(env, api, ns);
      session.kubeconfig = kubeconfig;
      const creds = join(env.TESTENV_DIR, 'screens-registry.json');
      const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
      writeFileSync(creds, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });
      const pipeline = await api.request<{ spec: { git: Record<string, unknown> } }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/edge`);
      const git = pipeline.body.spec.git;
      await applyPipelineAsAdmin(api, ns, 'edge', { git: { ...git, interval: '1h' }, images: [{ repository: `${env.REGISTRY}/acme/shot-*`, tag: 'main' }] });
      await applyPipelineAsAdmin(api, ns, 'lab', { git: { ...git, url: labUrl }, wait: { timeout: '5s' } });

      const controller = startController(
        env,
        ['--namespace', ns, '--ui-auth', 'none', '--registry-credentials', creds, '--poll-interval', '3s', '--image-poll-interval', '2s'],
        {
          kubeconfig,
          port: await freePort(),
        },
      );
      session.controller = controller;
      const base = controller.url;
      const status = async (name: string) =>
        (
          await api.request<{ status?: { conditions?: Array<{ type: string; status: string; reason: string }>; history?: unknown[] } }>(
            'GET',
            `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/${name}`,
          )
        ).body.status ?? {};
      const ready = async (name: string) => (await status(name)).conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      await waitFor('edge ready', () => ready('edge'), { timeoutMs: 120_000 });
      say('a new image digest and a commit, so that history and digests have a story');
      await pushTestImage(env, 'acme/shot-telegraf', 'main', 'telegraf v2');
      await waitFor('the new digest applied', async () => ((await status('edge')).history?.length ?? 0) >= 2 && (await ready('edge')), { timeoutMs: 60_000 });
      await pushFiles(
        env,
        url,
        { 'deploy/3-telegraf/120-telegrafconfig.yml': configMapYaml(app, 'telegraf', { interval: '30s' }) },
        'telegraf: sample every 30 s',
      );
      await waitFor('the commit applied', async () => ((await status('edge')).history?.length ?? 0) >= 3 && (await ready('edge')), { timeoutMs: 60_000 });
      await waitFor('lab timed out', async () => (await status(lab)).conditions?.some((c) => c.reason === 'HealthCheckFailed'), { timeoutMs: 60_000 });

      mkdirSync(out, { recursive: true });
      const shoot = async (path: string, file: string, viewport: { width: number; height: number }, fullPage: boolean) => {
        const ctx = await browser.newContext({ viewport, colorScheme: 'light', deviceScaleFactor: 1 });
        const page = await ctx.newPage();
        await page.goto(`${base}${path}`);
        await page.waitForSelector('#live:text("live")');
        await page.screenshot({ path: join(out, file), fullPage });
        await ctx.close();
        say(`wrote docs/screenshots/${file}`);
      };
      await shoot('/', 'cluster.png', { width: 1280, height: 720 }, false);
      await shoot('/pipelines/edge', 'pipeline.png', { width: 1280, height: 900 }, true);
      await shoot('/pipelines/lab', 'pipeline-failed.png', { width: 1280, height: 800 }, true);
      await shoot('/pipelines/edge', 'pipeline-phone.png', { width: 390, height: 844 }, false);
      await shootFleet(env, api, browser, out, say);
    } finally {
      await browser.close();
    }
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
