/**
 * `npm run demo`: DORIS end to end on a machine with no cluster.
 *
 * Brings up the local environment (a real control plane with a fake node, a git server,
 * an OCI registry), pushes an edge-monitoring repository (namespace, database, collector,
 * dashboard in four waves) and its images, installs DORIS with `doris bootstrap`, runs the
 * controller, and then shows the loop: a commit changes the collector's configuration, a
 * new image is pushed, and DORIS applies both by itself. Ctrl-C stops everything it started.
 *
 *   npm run demo            stays up until Ctrl-C so you can look around
 *   npm run demo -- --exit  shows the loop, then cleans up and exits (CI, tests)
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeHttp } from '../src/kube/http.js';
import { down, up } from '../test/env/lifecycle.js';
import { envFile, repoRoot, stateFile } from '../test/env/paths.js';
import { freePort } from '../test/env/ports.js';
import { waitFor } from '../test/env/proc.js';
import { startController } from '../test/env/doris.js';
import { deploymentYaml } from '../test/env/manifests.js';
import { createRepo, loadTestEnv, pushFiles, pushTestImage } from '../test/env/testenv.js';
import { existsSync } from 'node:fs';

const ns = 'doris-demo';
const app = 'monitoring';
const say = (line: string) => console.log(`demo: ${line}`);

function repository(registry: string, interval: string): Record<string, string> {
  const workload = (name: string, container = '', pod = '') => deploymentYaml({ namespace: app, name, image: 'image_url_var', container, pod });
  const service = (name: string, port: number) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${app}}\nspec:\n  selector: {app: ${name}}\n  ports: [{port: ${port}}]\n`;
  return {
    'deploy/1-base/10-monitoringnamespace.yml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${app}\n`,
    'deploy/2-influxdb/40-influxdbpvc.yml': `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: influxdb, namespace: ${app}}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n`,
    'deploy/2-influxdb/170-influxdbdeployment.yml': workload(
      'influx',
      '        volumeMounts: [{name: data, mountPath: /var/lib/influxdb}]\n',
      '      volumes: [{name: data, persistentVolumeClaim: {claimName: influxdb}}]\n',
    ),
    'deploy/2-influxdb/200-influxdbservice.yml': service('influx', 8086),
    'deploy/3-telegraf/120-telegrafconfig.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: telegraf, namespace: ${app}}\ndata:\n  telegraf.conf: |\n    [agent]\n      interval = "${interval}"\n    [[outputs.influxdb]]\n      urls = ["http://influx:8086"]\n`,
    'deploy/3-telegraf/170-telegrafdeployment.yml': workload(
      'telegraf',
      '        volumeMounts: [{name: config, mountPath: /etc/telegraf}]\n',
      '      volumes: [{name: config, configMap: {name: telegraf}}]\n',
    ),
    'deploy/4-grafana/170-grafanadeployment.yml': workload('grafana'),
    'deploy/4-grafana/200-grafanaservice.yml': service('grafana', 3000),
    'README.md': `Edge monitoring, deployed by DORIS. Images come from ${registry}/acme/solar-*.\n`,
  };
}

function doris(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const exitAfter = process.argv.includes('--exit');
  const wasUp = existsSync(stateFile) && existsSync(envFile);
  say('bringing up the local environment (the first run builds the control plane: ~8 minutes)');
  await up();
  const env = loadTestEnv();
  const api = await KubeHttp.fromKubeconfigFile(env.KUBECONFIG);
  const childEnv = { ...process.env, KUBECONFIG: env.KUBECONFIG, DORIS_GIT_USERNAME: env.GIT_USERNAME, DORIS_GIT_TOKEN: env.GIT_TOKEN };
  let controller: ReturnType<typeof startController> | undefined;
  const cleanup = async () => {
    await controller?.stop();
    await api.request('DELETE', `/api/v1/namespaces/${app}`, { accept: [404] }).catch(() => undefined);
    await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] }).catch(() => undefined);
    api.close();
    if (!wasUp) await down();
  };
  process.once('SIGINT', () => {
    say('Ctrl-C: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  say('pushing images acme/solar-influx, acme/solar-telegraf, acme/solar-grafana');
  for (const name of ['influx', 'telegraf', 'grafana']) await pushTestImage(env, `acme/solar-${name}`, 'main', `${name} v1`);
  const { url, commit } = await createRepo(env, 'edge-monitoring', repository(env.REGISTRY, '10s'));
  say(`pushed ${url} at ${commit.slice(0, 12)}`);

  const creds = join(env.TESTENV_DIR, 'demo-registry.json');
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(creds, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });
  const tokenFile = join(env.TESTENV_DIR, 'demo-registry-token');
  writeFileSync(tokenFile, env.REGISTRY_NOTIFY_TOKEN, { mode: 0o600 });
  say('installing DORIS: doris bootstrap');
  const code = await doris(
    [
      '--namespace',
      ns,
      'bootstrap',
      '--repo',
      url,
      '--name',
      'edge',
      '--interval',
      '5s',
      '--image-rule',
      `${env.REGISTRY}/acme/solar-*:main`,
      '--registry-credentials',
      creds,
      '--registry-token-file',
      tokenFile,
      '--no-controller',
    ],
    childEnv,
  );
  if (code !== 0) throw new Error('bootstrap failed');

  // The fake node runs no real containers: the controller runs here, as it would in its Pod.
  const port = await freePort();
  controller = startController(env, ['--namespace', ns, '--poll-interval', '5s', '--image-poll-interval', '5s'], { port });
  const sub = await fetch(`${env.NOTIFY_RELAY_URL}/subscribe`, { method: 'POST', body: JSON.stringify({ url: `${controller.url}/hooks/registry` }) });
  const { id } = (await sub.json()) as { id: string };
  const pipeline = async () =>
    (
      await api.request<{ status?: { lastAppliedCommit?: string; conditions?: Array<{ type: string; status: string; message: string }> } }>(
        'GET',
        `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/edge`,
      )
    ).body.status ?? {};
  const image = async (name: string) =>
    (
      await api.request<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(
        'GET',
        `/apis/apps/v1/namespaces/${app}/deployments/${name}`,
      )
    ).body.spec.template.spec.containers[0]!.image;

  await waitFor('the first sync', async () => (await pipeline()).lastAppliedCommit === commit, { timeoutMs: 120_000 });
  say(`1. DORIS applied the repository: ${(await pipeline()).conditions?.find((c) => c.type === 'Ready')?.message}`);
  for (const name of ['influx', 'telegraf', 'grafana']) say(`   ${name} runs ${await image(name)}`);

  const second = await pushFiles(
    env,
    url,
    { 'deploy/3-telegraf/120-telegrafconfig.yml': repository(env.REGISTRY, '5s')['deploy/3-telegraf/120-telegrafconfig.yml']! },
    'telegraf: collect every 5s',
  );
  say(`2. committed ${second.slice(0, 12)}: telegraf collects every 5 s instead of 10 s`);
  await waitFor('the commit applied', async () => (await pipeline()).lastAppliedCommit === second, { timeoutMs: 60_000 });
  say(`   DORIS applied it: ${(await pipeline()).conditions?.find((c) => c.type === 'Ready')?.message} (telegraf rolled: its config hash changed)`);

  const digest = await pushTestImage(env, 'acme/solar-influx', 'main', `influx v2 ${Date.now()}`);
  say(`3. pushed a new acme/solar-influx:main (${digest.slice(0, 19)}...), no commit`);
  await waitFor('the image roll', async () => (await image('influx')).endsWith(digest), { timeoutMs: 60_000 });
  say(`   DORIS rolled influx to ${await image('influx')}`);

  say('where to look:');
  say(`   source ${envFile}`);
  say(`   $KUBECTL -n ${ns} get pipelines         # READY, COMMIT, AGE`);
  say(`   $KUBECTL -n ${ns} get events            # every sync, prune and image change`);
  say(`   curl ${controller.url}/api/pipelines      # status as JSON (dashboard at ${controller.url}/)`);
  say(`   curl ${controller.url}/metrics            # Prometheus metrics`);
  await fetch(`${env.NOTIFY_RELAY_URL}/subscribe/${id}`, { method: 'DELETE' }).catch(() => undefined);
  if (exitAfter) {
    await cleanup();
    say('done');
    return;
  }
  say('DORIS keeps running: push to the repository and watch it apply. Ctrl-C stops everything.');
  await new Promise(() => undefined);
}

main().catch((error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
