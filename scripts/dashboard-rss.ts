/**
 * `npm run dashboard-rss`: what the dashboard costs the controller in memory. A `doris run`
 * (with the image's node flags) syncs a Pipeline of 60 objects every 5 s; its RSS is sampled
 * for a while with no page open, then while headless Chromium keeps the Pipelines page and
 * the Pipeline's page open (live updates, health refreshed every 5 s), and the medians are
 * compared. The budget is 10 MiB. Uses the local test environment (brought up if down).
 */
import { readFileSync } from 'node:fs';
import { dorisNodeFlags } from '../src/install/nodeflags.js';
import { launchChromium } from '../test/env/browser.js';
import { startController } from '../test/env/doris.js';
import { bootstrapInstall, serviceAccountKubeconfig } from '../test/env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../test/env/manifests.js';
import { freePort } from '../test/env/ports.js';
import { delay, waitFor } from '../test/env/proc.js';
import { createRepo } from '../test/env/testenv.js';
import { withTestEnv } from './test-env-session.js';

const ns = 'doris-rss';
const app = 'rss-app';
const warmupMs = Number(process.env.RSS_WARMUP_MS ?? 60_000);
const sampleMs = Number(process.env.RSS_SAMPLE_MS ?? 120_000);
const say = (line: string) => console.log(`dashboard-rss: ${line}`);

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function samples(pid: number, ms: number): Promise<number[]> {
  const values: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    values.push(rssMiB(pid));
    await delay(2_000);
  }
  return values;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  await withTestEnv(ns, [app], async (session) => {
    const { env, api } = session;
    const files: Record<string, string> = { 'deploy/1-base/10-ns.yml': namespaceYaml(app) };
    for (let i = 0; i < 50; i++) files[`deploy/1-base/${100 + i}-cm.yml`] = configMapYaml(app, `config-${i}`, { value: `${i}` });
    for (let i = 0; i < 9; i++)
      files[`deploy/2-app/${170 + i}-web.yml`] = deploymentYaml({ namespace: app, name: `web-${i}`, image: 'registry.example/web:1' });
    const { url } = await createRepo(env, 'rss', files);
    await bootstrapInstall(env, ns, url, 'rss');
    const kubeconfig = await serviceAccountKubeconfig(env, api, ns);
    session.kubeconfig = kubeconfig;
    const controller = startController(env, ['--namespace', ns, '--ui-auth', 'none', '--poll-interval', '5s'], {
      kubeconfig,
      port: await freePort(),
      nodeFlags: dorisNodeFlags,
    });
    session.controller = controller;
    const pid = controller.child.pid!;
    const base = controller.url;
    await waitFor(
      'the first sync',
      async () => ((await (await fetch(`${base}/api/pipelines`)).json()) as { pipelines: Array<{ ready: string }> }).pipelines[0]?.ready === 'True',
      { timeoutMs: 120_000 },
    );
    say(`warming up ${warmupMs / 1000} s, then ${sampleMs / 1000} s without a page open`);
    await delay(warmupMs);
    const without = await samples(pid, sampleMs);
    const browser = await launchChromium();
    const ctx = await browser.newContext();
    const list = await ctx.newPage();
    await list.goto(`${base}/`);
    const detail = await ctx.newPage();
    await detail.goto(`${base}/pipelines/rss`);
    say(`two pages open: warming up ${warmupMs / 1000} s, then ${sampleMs / 1000} s`);
    await delay(warmupMs);
    const withPages = await samples(pid, sampleMs);
    await browser.close();
    const a = median(without);
    const b = median(withPages);
    say(
      `RSS median without a page ${a.toFixed(1)} MiB (max ${Math.max(...without).toFixed(1)}), with two live pages ${b.toFixed(1)} MiB (max ${Math.max(...withPages).toFixed(1)}): ${(b - a).toFixed(1)} MiB more (budget 10 MiB)`,
    );
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
