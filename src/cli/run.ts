/**
 * `doris run`: the in-cluster controller. Watches Pipelines, holds the leader Lease, polls
 * and syncs, and serves health, metrics, webhooks and the status API. SIGTERM stops it
 * gracefully: the request in flight finishes, no status is written half-done, the Lease is
 * released so another replica takes over at once.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { parseDuration, type Pipeline } from '../api/pipeline.js';
import { Controller } from '../controller/controller.js';
import { defaultLeaseOptions } from '../controller/lease.js';
import { createLogger } from '../log.js';
import { createHttpServer } from '../server/http.js';
import { Metrics } from '../server/metrics.js';
import { gitCredentialsFromFlags } from '../source/credentials.js';
import { EventRecorder } from '../status/events.js';
import { ensurePipelineCrd } from '../status/store.js';
import { UsageError, connect, type GlobalOptions } from './common.js';
import type { KubeClient } from '../kube/client.js';

interface RunFlags {
  listen: string;
  webhookSecretFile?: string;
  registryTokenFile?: string;
  webhookSecretName: string;
  pollInterval?: string;
  imagePollInterval?: string;
  catalogTtl: string;
  registryCredentials?: string;
  leaseDuration: string;
  leaseRenew: string;
  identity?: string;
  maxConcurrentSyncs: string;
  bodyLimit: string;
  deploymentName: string;
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) throw new UsageError(`--listen must be [HOST]:PORT, not ${listen}`);
  return { host: match[1] || '0.0.0.0', port: Number(match[2]) };
}

/** Webhook credentials from files, else from a Secret in the controller namespace (re-read every minute). */
class WebhookCredentials {
  private fromSecret: Record<string, string> = {};

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly secretName: string,
    private readonly files: { github?: string; registry?: string },
  ) {}

  async refresh(): Promise<void> {
    const secret = (await this.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: this.secretName }).catch(() => undefined)) as
      | { data?: Record<string, string> }
      | undefined;
    this.fromSecret = Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8').trim()]));
  }

  github(): string | undefined {
    return this.files.github ? readFileSync(this.files.github, 'utf8').trim() : this.fromSecret['github-secret'];
  }

  registry(): string | undefined {
    return this.files.registry ? readFileSync(this.files.registry, 'utf8').trim() : this.fromSecret['registry-token'];
  }
}

export function runCommand(global: () => GlobalOptions): Command {
  return new Command('run')
    .description('run the controller: watch Pipelines, poll git, sync, serve /healthz /readyz /metrics, webhooks and /api/pipelines')
    .option('--listen <addr>', 'HTTP listen address', ':8080')
    .option('--webhook-secret-file <file>', 'GitHub webhook secret (default: key github-secret of the webhook Secret)')
    .option('--registry-token-file <file>', 'bearer token of registry notifications (default: key registry-token of the webhook Secret)')
    .option('--webhook-secret-name <name>', 'Secret in the controller namespace holding github-secret and registry-token', 'doris-webhook')
    .option('--poll-interval <duration>', 'override every Pipeline’s git poll interval (e.g. 10s)')
    .option('--registry-credentials <file>', 'dockerconfigjson for image rules that name no Secret')
    .option('--image-poll-interval <duration>', 'override every image rule’s poll interval (e.g. 5s)')
    .option('--catalog-ttl <duration>', 'how long a glob image rule reuses its registry catalog listing', '5m')
    .option('--lease-duration <duration>', 'leader Lease duration', '15s')
    .option('--lease-renew <duration>', 'leader Lease renew period', '5s')
    .option('--identity <id>', 'this replica’s identity in the Lease (default: hostname and a random suffix)')
    .option('--max-concurrent-syncs <n>', 'Pipelines synced at once', '4')
    .option('--body-limit <bytes>', 'largest webhook body accepted', String(1024 * 1024))
    .option('--deployment-name <name>', 'the controller’s own Deployment, never pruned', 'doris')
    .addHelpText('after', '\nGit credentials for Pipelines without spec.git.secretRef come from DORIS_GIT_USERNAME / DORIS_GIT_TOKEN.')
    .action(async (flags: RunFlags) => {
      const options = global();
      const log = createLogger();
      const { host, port } = parseListen(flags.listen);
      const client = await connect(options);
      const metrics = new Metrics();
      try {
        await ensurePipelineCrd(client);
      } catch (error) {
        // With least-privilege RBAC the controller may not create CRDs: bootstrap does.
        log.warn({ err: (error as Error).message }, 'could not ensure the Pipeline CRD; assuming it is installed');
      }
      const identity = flags.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
      const lease = {
        ...defaultLeaseOptions(options.namespace, identity),
        durationMs: parseDuration(flags.leaseDuration),
        renewMs: parseDuration(flags.leaseRenew),
      };
      const controller = new Controller(client, log, metrics, new EventRecorder(client, log), {
        namespace: options.namespace,
        workDir: options.workDir,
        maxConcurrentSyncs: Number(flags.maxConcurrentSyncs),
        jitter: 0.1,
        backoffMs: 5_000,
        pollIntervalMs: flags.pollInterval ? parseDuration(flags.pollInterval) : undefined,
        imagePollIntervalMs: flags.imagePollInterval ? parseDuration(flags.imagePollInterval) : undefined,
        catalogTtlMs: parseDuration(flags.catalogTtl),
        registryCredentialsFile: flags.registryCredentials,
        controllerDeployment: flags.deploymentName,
        lease,
        fallbackCredentials: gitCredentialsFromFlags(undefined, undefined),
      });
      const webhookCredentials = new WebhookCredentials(client, options.namespace, flags.webhookSecretName, {
        github: flags.webhookSecretFile,
        registry: flags.registryTokenFile,
      });
      await webhookCredentials.refresh();
      const refresher = setInterval(() => void webhookCredentials.refresh(), 60_000);
      const server = createHttpServer({
        log,
        metrics,
        ready: () => controller.ready,
        pipelines: () => [...controller.watcher.pipelines.values()] as Pipeline[],
        githubSecret: () => webhookCredentials.github(),
        registryToken: () => webhookCredentials.registry(),
        onGithubPush: (repositories, branch) => {
          const names = [...new Set(repositories.flatMap((repo) => controller.pipelinesFor(repo, branch)))];
          for (const name of names) controller.trigger(name, 'github push');
          return names;
        },
        onRegistryPush: (images) => {
          const names = [...new Set(images.flatMap((image) => controller.pipelinesTrackingImage(image.repository)))];
          for (const name of names) controller.imagePushed(name);
          return names;
        },
        bodyLimitBytes: Number(flags.bodyLimit),
      });
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      const address = server.address();
      log.info({ identity, listen: typeof address === 'object' && address ? `${address.address}:${address.port}` : flags.listen, namespace: options.namespace }, 'doris controller started');
      controller.start();

      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info({ signal }, 'shutting down');
          clearInterval(refresher);
          server.close();
          server.closeIdleConnections();
          controller
            .stop()
            .catch((error: unknown) => log.error({ err: (error as Error).message }, 'shutdown failed'))
            .finally(() => {
              client.close();
              log.info('stopped');
              resolve();
            });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}
