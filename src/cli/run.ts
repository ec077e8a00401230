/**
 * `doris run`: the in-cluster controller. Watches Pipelines, holds the leader Lease, polls
 * and syncs, and serves health, metrics, webhooks and the status API. SIGTERM stops it
 * gracefully: the request in flight finishes, no status is written half-done, the Lease is
 * released so another replica takes over at once.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { defaultDriftCheckPeriodMs, defaultDriftChecksPerSync } from '../apply/drift-rotation.js';
import { Controller, defaultControllerTuning } from '../controller/controller.js';
import { defaultLeaseOptions } from '../controller/lease.js';
import type { KubeClient } from '../kube/client.js';
import { createLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { closeServer, createHttpServer, defaultServerOptions, largestBodiesAtOnce } from '../server/http.js';
import { RememberingEventRecorder, SyncActivity } from '../controller/activity.js';
import { ControllerClusterSource } from '../server/cluster-source.js';
import { createDashboard } from '../server/dashboard.js';
import { untilSignalled } from './shutdown.js';
import { CredentialFile, credentialFileMaxAgeMs, SecretKeys, type UiFlags, UiTokens, uiAuthFromFlags, uiOptions } from './ui-flags.js';
import { gitCredentialsFromFlags } from '../source/credentials.js';
import { ensurePipelineCrd } from '../status/store.js';
import { UsageError, connect, durationFlag, formatDuration, integerFlag, listenFlag, type GlobalOptions } from './common.js';

interface RunFlags extends UiFlags {
  listen: { host: string; port: number };
  logLevel?: string;
  webhookSecretFile?: string;
  registryTokenFile?: string;
  webhookSecretName: string;
  pollInterval?: number;
  imagePollInterval?: number;
  registryCredentials?: string;
  leaseDuration: number;
  leaseRenew: number;
  identity?: string;
  maxConcurrentSyncs: number;
  driftChecksPerSync: number;
  driftCheckPeriod: number;
  bodyLimit: number;
  bodyBufferLimit?: number;
  deploymentName: string;
}

/**
 * How long a shutdown may take, from the signal: Kubernetes waits `terminationGracePeriodSeconds`
 * and then kills, and a rollout or self-update waits for us; we promise an exit within 5 s.
 */
const shutdownBudget = {
  /** Requests in flight (a webhook) may finish until then; then connections are cut. */
  httpMs: 2_000,
  /** Syncs in flight end at their next step boundary by then; one that cannot is left behind. */
  syncsMs: 2_500,
  /** Whatever happens, the process is gone by then. */
  exitMs: 4_500,
};

const defaultListen = ':8080';

/** Webhook credentials from files, else from a Secret in the controller namespace (re-read every minute). */
export class WebhookCredentials {
  private readonly fromSecret: SecretKeys;
  private readonly githubFile: CredentialFile | undefined;
  private readonly registryFile: CredentialFile | undefined;

  constructor(
    client: KubeClient,
    namespace: string,
    secretName: string,
    files: { github?: string; registry?: string },
    log: Logger,
    fileMaxAgeMs = credentialFileMaxAgeMs,
  ) {
    this.fromSecret = new SecretKeys(client, namespace, secretName, log);
    this.githubFile = files.github ? new CredentialFile(files.github, log, fileMaxAgeMs) : undefined;
    this.registryFile = files.registry ? new CredentialFile(files.registry, log, fileMaxAgeMs) : undefined;
  }

  async refresh(): Promise<void> {
    if (!this.githubFile || !this.registryFile) await this.fromSecret.refresh();
  }

  github(): string | undefined {
    return this.githubFile ? this.githubFile.value() : this.fromSecret.get('github-secret');
  }

  registry(): string | undefined {
    return this.registryFile ? this.registryFile.value() : this.fromSecret.get('registry-token');
  }
}

/** Duration and number flags with their defaults, each taken from the options it sets. */
function runOptions(): Option[] {
  const lease = defaultLeaseOptions('', '');
  const tuning = defaultControllerTuning();
  const duration = (flags: string, description: string, example: string, defaultMs?: number) => {
    const option = new Option(flags, description).argParser(durationFlag(`${flags.split(' ')[0]} ${example}`));
    return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
  };
  return [
    new Option('--listen <addr>', 'HTTP listen address, [HOST]:PORT')
      .argParser(listenFlag('--listen 127.0.0.1:8080'))
      .default(listenFlag('')(defaultListen), defaultListen),
    duration('--poll-interval <duration>', 'override every Pipeline’s git poll interval', '10s'),
    duration('--image-poll-interval <duration>', 'override every image rule’s poll interval', '5s'),
    duration('--lease-duration <duration>', 'leader Lease duration: a Lease not renewed for this long is taken over', '15s', lease.durationMs),
    duration('--lease-renew <duration>', 'leader Lease renew period (shorter than --lease-duration)', '5s', lease.renewMs),
    new Option('--log-level <level>', 'log level (default: $DORIS_LOG_LEVEL, else info)').choices([
      'trace',
      'debug',
      'info',
      'warn',
      'error',
      'fatal',
      'silent',
    ]),
    new Option('--max-concurrent-syncs <n>', 'Pipelines synced at once; a health wait that lasts over 5 s holds no slot')
      .argParser(integerFlag('--max-concurrent-syncs 4', 1))
      .default(tuning.schedule.maxConcurrent),
    new Option(
      '--drift-checks-per-sync <n>',
      'most Secrets DORIS may write but not read that one sync checks for drift (0: all in every sync, whatever --drift-check-period)',
    )
      .argParser(integerFlag('--drift-checks-per-sync 1000', 0))
      .default(defaultDriftChecksPerSync),
    duration(
      '--drift-check-period <duration>',
      'check each Secret DORIS may write but not read for drift about once in this period: each sync at the Pipeline’s interval checks its share, the least recently checked first, at most --drift-checks-per-sync (a period no longer than the interval: every sync checks that many)',
      '10m',
      defaultDriftCheckPeriodMs,
    ),
    new Option('--body-limit <bytes>', 'largest webhook body accepted, in bytes')
      .argParser(integerFlag('--body-limit 1048576', 1))
      .default(defaultServerOptions().bodyLimitBytes),
    new Option(
      '--body-buffer-limit <bytes>',
      `most bytes of request bodies being received at once, over all requests (a body of unknown length counts as --body-limit): past it a request is refused with 503 and its connection closed, so that unauthenticated webhook bodies cannot exhaust memory (default: ${largestBodiesAtOnce} × --body-limit)`,
    ).argParser(integerFlag('--body-buffer-limit 8388608', 1)),
  ];
}

export function runCommand(global: () => GlobalOptions): Command {
  const command = new Command('run')
    .description('run the controller: watch Pipelines, poll git, sync, serve /healthz /readyz /metrics, webhooks, the dashboard and /api/pipelines')
    .option('--webhook-secret-file <file>', 'GitHub webhook secret (default: key github-secret of the webhook Secret)')
    .option('--registry-token-file <file>', 'bearer token of registry notifications (default: key registry-token of the webhook Secret)')
    .option('--webhook-secret-name <name>', 'Secret in the controller namespace holding github-secret and registry-token', 'doris-webhook')
    .option('--registry-credentials <file>', 'dockerconfigjson for image rules that name no Secret')
    .option('--identity <id>', 'this replica’s identity in the Lease (default: hostname and a random suffix)')
    .option('--deployment-name <name>', 'the controller’s own Deployment, never pruned', 'doris');
  for (const option of [...runOptions(), ...uiOptions()]) command.addOption(option);
  return command
    .addHelpText('after', '\nGit credentials for Pipelines without spec.git.secretRef come from DORIS_GIT_USERNAME / DORIS_GIT_TOKEN.')
    .action(async (flags: RunFlags) => {
      const options = global();
      if (flags.leaseRenew >= flags.leaseDuration) {
        throw new UsageError(
          `--lease-renew (${formatDuration(flags.leaseRenew)}) must be shorter than --lease-duration (${formatDuration(flags.leaseDuration)}), e.g. --lease-duration 15s --lease-renew 5s`,
        );
      }
      if (flags.bodyBufferLimit !== undefined && flags.bodyBufferLimit < flags.bodyLimit) {
        throw new UsageError(
          `--body-buffer-limit (${flags.bodyBufferLimit}) is smaller than --body-limit (${flags.bodyLimit}): a body of the largest size would always be refused`,
        );
      }
      let uiTokens: UiTokens | undefined;
      const uiAuth = uiAuthFromFlags(flags, flags.listen.host, () => uiTokens?.tokens() ?? {});
      const log = createLogger({ level: flags.logLevel });
      const client = await connect(options);
      const metrics = new Metrics();
      try {
        await ensurePipelineCrd(client);
      } catch (error) {
        // With least-privilege RBAC the controller may not create CRDs: bootstrap does.
        log.warn({ err: (error as Error).message }, 'could not ensure the Pipeline CRD; assuming it is installed');
      }
      const identity = flags.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
      const tuning = defaultControllerTuning();
      const activity = new SyncActivity();
      const controller = new Controller(client, log, metrics, new RememberingEventRecorder(client, log, activity), {
        ...tuning,
        namespace: options.namespace,
        workDir: options.workDir,
        schedule: { ...tuning.schedule, maxConcurrent: flags.maxConcurrentSyncs },
        pollIntervalMs: flags.pollInterval,
        imagePollIntervalMs: flags.imagePollInterval,
        registryCredentialsFile: flags.registryCredentials,
        controllerDeployment: flags.deploymentName,
        driftChecksPerSync: flags.driftChecksPerSync,
        driftCheckPeriodMs: flags.driftCheckPeriod,
        lease: { ...defaultLeaseOptions(options.namespace, identity), durationMs: flags.leaseDuration, renewMs: flags.leaseRenew },
        fallbackCredentials: gitCredentialsFromFlags(undefined, undefined),
        activity,
      });
      const webhookCredentials = new WebhookCredentials(
        client,
        options.namespace,
        flags.webhookSecretName,
        {
          github: flags.webhookSecretFile,
          registry: flags.registryTokenFile,
        },
        log,
      );
      uiTokens = new UiTokens(client, options.namespace, flags.uiSecretName, { operator: flags.uiTokenFile, viewer: flags.uiViewerTokenFile }, log);
      await Promise.all([webhookCredentials.refresh(), uiAuth.mode === 'token' ? uiTokens.refresh() : undefined]);
      const refresher = setInterval(() => {
        void webhookCredentials.refresh();
        if (uiAuth.mode === 'token') void uiTokens?.refresh();
      }, 60_000);
      const server = createHttpServer({
        log,
        metrics,
        ready: () => controller.ready,
        dashboard: createDashboard(new ControllerClusterSource(client, controller), uiAuth, log),
        githubSecret: () => webhookCredentials.github(),
        registryToken: () => webhookCredentials.registry(),
        onGithubPush: (repositories, branch) => {
          const names = [...new Set(repositories.flatMap((repo) => controller.pipelinesFor(repo, branch)))];
          for (const name of names) controller.pushed(name);
          return names;
        },
        onRegistryPush: (images) => {
          const names = [...new Set(images.flatMap((image) => controller.pipelinesTrackingImage(image.repository)))];
          for (const name of names) controller.imagePushed(name);
          return names;
        },
        bodyLimitBytes: flags.bodyLimit,
        bodyBufferLimitBytes: flags.bodyBufferLimit,
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(flags.listen.port, flags.listen.host, resolve);
      });
      const address = server.address();
      const listen = typeof address === 'object' && address ? `${address.address}:${address.port}` : `${flags.listen.host}:${flags.listen.port}`;
      log.info({ identity, listen, namespace: options.namespace, uiAuth: uiAuth.mode }, 'doris controller started');
      controller.start();

      await untilSignalled(log, shutdownBudget.exitMs, async (started) => {
        clearInterval(refresher);
        const http = closeServer(server, started + shutdownBudget.httpMs);
        const unfinished = await controller.stop(started + shutdownBudget.syncsMs);
        const clean = await http;
        client.close();
        return {
          fields: { ...(clean ? {} : { connectionsCut: true }), ...(unfinished.length > 0 ? { unfinished } : {}) },
          // A sync blocked in a step that cannot be interrupted (a git command) would keep the
          // process alive: it has recorded nothing and never will, so leave it behind.
          leftBehind: unfinished.length > 0 ? `syncs still in a step that cannot be interrupted: ${unfinished.join(', ')}` : undefined,
        };
      });
    });
}
