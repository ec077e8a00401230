/**
 * `doris hub`: serves a fleet hub from the cluster of the current kubeconfig (its state is
 * kept there: see src/hub/server.ts), `doris hub token create`: an enrollment token, and
 * `doris hub install` (hub-install.ts).
 *
 * For hub commands the global `-n/--namespace` is the hub namespace (Fleets, Devices,
 * enrollment tokens, bundles, the leader Lease), `doris-hub` unless given: a hub is not a
 * controller, and the two should not share a namespace by accident.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { setComponent } from '../version.js';
import { fleetLabel, hubApiVersion, offlineAfterMs } from '../api/hub.js';
import { defaultLeaseOptions } from '../controller/lease.js';
import { createLogger, type Logger } from '../log.js';
import { defaultDeviceRegistryOptions } from '../hub/devices.js';
import { labelsSchema } from '../hub/protocol.js';
import { HubConfigError, startHub } from '../hub/server.js';
import { defaultHubNamespace } from '../hub/install.js';
import { EnrollmentTokens } from '../hub/tokens.js';
import { hubInstallCommand } from './hub-install.js';
import { untilSignalled } from './shutdown.js';
import { CredentialFile, type UiFlags, UiTokens, uiAuthFromFlags, uiOptions } from './ui-flags.js';
import {
  NotFoundError,
  UsageError,
  connect,
  durationFlag,
  formatDuration,
  integerFlag,
  listenFlag,
  out,
  printResult,
  say,
  type GlobalOptions,
} from './common.js';

export { defaultHubNamespace };

export const hubNamespaceHelp = `
For hub commands, the global -n/--namespace is the HUB namespace (where Fleets, Devices,
enrollment tokens and bundles live), default ${defaultHubNamespace} — not the controller namespace.`;

/** The hub namespace: the global --namespace when given, else `doris-hub` (not the controller's default). */
export function hubNamespace(command: Command, global: GlobalOptions): string {
  let root = command;
  while (root.parent) root = root.parent;
  return root.getOptionValueSource('namespace') === 'default' ? defaultHubNamespace : global.namespace;
}

/** `k=v,k2=v2` as labels, checked like a Device's. */
export function labelsFlag(value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of value.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels: ${JSON.stringify(pair)} is not key=value (e.g. --labels site=north,tier=edge)`);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  const parsed = labelsSchema.safeParse(labels);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--labels: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'} (e.g. --labels site=north,tier=edge)`);
  }
  const reserved = Object.keys(labels).find((k) => k.startsWith('hub.doris.dev/'));
  if (reserved) throw new UsageError(`--labels: ${reserved} is the hub's own label`);
  return labels;
}

interface HubFlags extends UiFlags {
  listen: { host: string; port: number };
  tlsSecret?: string;
  insecureHttp?: boolean;
  githubSecretFile?: string;
  registryTokenFile?: string;
  registryCredentials?: string;
  identity?: string;
  leaseDuration: number;
  leaseRenew: number;
  upstreamInterval?: number;
  disconnectGrace: number;
  bodyLimit: number;
}

const shutdownBudget = { httpMs: 2_000, exitMs: 4_500 };

/**
 * A secret from a file (re-read every few seconds, so a rotated file is picked up, and not on
 * every unauthenticated request; unreadable counts as not configured), else from the environment.
 */
function secretSource(file: string | undefined, env: string, log: Logger): () => string | undefined {
  if (file) {
    const credential = new CredentialFile(file, log);
    return () => credential.value();
  }
  return () => process.env[env]?.trim() || undefined;
}

function tokenCommand(global: () => GlobalOptions): Command {
  const token = new Command('token').description('enrollment tokens: devices spend them to enroll and get their own device token');
  token
    .command('create')
    .description('create an enrollment token for a Fleet; the token is printed once, as the last line of stdout, and stored only hashed')
    .requiredOption('--fleet <name>', 'the Fleet the enrolled devices join')
    .option('--labels <k=v,...>', 'labels every device enrolled with it gets (they win over the labels a device asks for)', labelsFlag)
    .addOption(new Option('--ttl <duration>', 'how long the token can be used').argParser(durationFlag('--ttl 24h')).default(24 * 3_600_000, '24h'))
    .addOption(new Option('--uses <n>', 'how many devices may enroll with it').argParser(integerFlag('--uses 10', 1, 1_000_000)).default(1))
    .addHelpText('after', hubNamespaceHelp)
    .action(async (given: { fleet: string; labels?: Record<string, string>; ttl: number; uses: number }, command: Command) => {
      const flags = { ...given, labels: given.labels ?? {} };
      const options = global();
      const namespace = hubNamespace(command, options);
      const client = await connect(options);
      try {
        const fleet = await client.get({ apiVersion: hubApiVersion, kind: 'Fleet', namespace, name: flags.fleet }).catch((error: unknown) => {
          throw new NotFoundError(
            `cannot read Fleet ${namespace}/${flags.fleet} (is the hub installed? doris hub installs its CRDs): ${(error as Error).message}`,
          );
        });
        if (!fleet) throw new NotFoundError(`no Fleet ${namespace}/${flags.fleet}; create it first (kubectl apply -f fleet.yaml)`);
        const created = await new EnrollmentTokens(client, namespace).create({ fleet: flags.fleet, labels: flags.labels, ttlMs: flags.ttl, uses: flags.uses });
        printResult(options, { ...created, namespace, uses: flags.uses }, () => {
          say(
            `enrollment token for Fleet ${namespace}/${flags.fleet}: ${flags.uses} use${flags.uses === 1 ? '' : 's'}, expires ${created.expiresAt}` +
              `${
                Object.keys(flags.labels).length
                  ? `, labels ${Object.entries(flags.labels)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(',')}`
                  : ''
              } (Secret ${created.name})`,
          );
          out(created.token);
        });
      } finally {
        client.close();
      }
    });
  return token;
}

export function hubCommand(global: () => GlobalOptions): Command {
  const lease = defaultLeaseOptions('', '');
  const duration = (flags: string, description: string, example: string, defaultMs?: number) => {
    const option = new Option(flags, description).argParser(durationFlag(`${flags.split(' ')[0]} ${example}`));
    return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
  };
  const command = new Command('hub')
    .description('serve a fleet hub: one upstream poll per Fleet, bundles and targets for its devices (state in this cluster, objects of hub.doris.dev)')
    .addOption(
      new Option('--listen <addr>', 'listen address, [HOST]:PORT').argParser(listenFlag('--listen 127.0.0.1:8443')).default(listenFlag('')(':8443'), ':8443'),
    )
    .option('--tls-secret <name>', 'serve HTTPS with this kubernetes.io/tls Secret of the hub namespace (read at start)')
    .option('--insecure-http', 'serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)')
    .option('--github-secret-file <file>', 'GitHub webhook secret (default: DORIS_GITHUB_SECRET)')
    .option('--registry-token-file <file>', 'bearer token of registry notifications (default: DORIS_REGISTRY_TOKEN)')
    .option('--registry-credentials <file>', 'dockerconfigjson for image rules that name no Secret')
    .option('--identity <id>', 'this replica’s identity in the Lease (default: hostname and a random suffix)')
    .addOption(duration('--lease-duration <duration>', 'leader Lease duration', '15s', lease.durationMs))
    .addOption(duration('--lease-renew <duration>', 'leader Lease renew period (shorter than --lease-duration)', '5s', lease.renewMs))
    .addOption(duration('--upstream-interval <duration>', 'override every Fleet’s poll interval', '10s'))
    .addOption(
      duration(
        '--disconnect-grace <duration>',
        'a device that holds no poll and sends nothing for this long is written disconnected (offline 15m after its last contact); longer than an agent’s retry backoff (2m)',
        '3m',
        defaultDeviceRegistryOptions().disconnectGraceMs,
      ),
    )
    .addOption(
      new Option('--body-limit <bytes>', 'largest webhook body accepted, in bytes').argParser(integerFlag('--body-limit 1048576', 1)).default(1024 * 1024),
    )
    .addHelpText(
      'after',
      `${hubNamespaceHelp}\nGit credentials of a Fleet come from the Secret its spec.git.secretRef names (keys username, token).\nThe fleet view (/, /fleets/NAME, /api/fleets) takes the --ui-* flags of doris run; its Secret is in the hub namespace.`,
    )
    .action(async (flags: HubFlags, self: Command) => {
      const options = global();
      const namespace = hubNamespace(self, options);
      if (flags.leaseRenew >= flags.leaseDuration) {
        throw new UsageError(
          `--lease-renew (${formatDuration(flags.leaseRenew)}) must be shorter than --lease-duration (${formatDuration(flags.leaseDuration)})`,
        );
      }
      if (flags.tlsSecret && flags.insecureHttp) throw new UsageError('--tls-secret and --insecure-http exclude each other');
      if (flags.disconnectGrace >= offlineAfterMs) {
        throw new UsageError(
          `--disconnect-grace (${formatDuration(flags.disconnectGrace)}) must be shorter than ${formatDuration(offlineAfterMs)}, after which a disconnected device counts as offline`,
        );
      }
      let uiTokens: UiTokens | undefined;
      const ui = uiAuthFromFlags(flags, flags.listen.host, () => uiTokens?.tokens() ?? {});
      // Git hosts and registries see `doris-hub/<version>`: their logs tell the hub from agents.
      setComponent('doris-hub');
      const log = createLogger();
      const client = await connect(options);
      uiTokens = new UiTokens(client, namespace, flags.uiSecretName, { operator: flags.uiTokenFile, viewer: flags.uiViewerTokenFile }, log);
      if (ui.mode === 'token') await uiTokens.refresh();
      const uiRefresh = ui.mode === 'token' ? setInterval(() => void uiTokens?.refresh(), 60_000).unref() : undefined;
      const identity = flags.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
      let hub: Awaited<ReturnType<typeof startHub>>;
      try {
        hub = await startHub({
          client,
          namespace,
          log,
          listen: flags.listen,
          tlsSecret: flags.tlsSecret,
          insecureHttp: flags.insecureHttp,
          workDir: options.workDir,
          identity,
          lease: { durationMs: flags.leaseDuration, renewMs: flags.leaseRenew },
          githubSecret: secretSource(flags.githubSecretFile, 'DORIS_GITHUB_SECRET', log),
          registryToken: secretSource(flags.registryTokenFile, 'DORIS_REGISTRY_TOKEN', log),
          registryCredentialsFile: flags.registryCredentials,
          bodyLimitBytes: flags.bodyLimit,
          disconnectGraceMs: flags.disconnectGrace,
          upstream: flags.upstreamInterval === undefined ? undefined : { intervalMs: flags.upstreamInterval },
          ui,
        });
      } catch (error) {
        client.close();
        if (error instanceof HubConfigError) throw new UsageError(error.message);
        throw error;
      }
      await untilSignalled(log, shutdownBudget.exitMs, async (started) => {
        clearInterval(uiRefresh);
        const { clean } = await hub.stop(started + shutdownBudget.httpMs);
        client.close();
        return { fields: clean ? {} : { connectionsCut: true } };
      });
    });
  for (const option of uiOptions()) command.addOption(option);
  command.addCommand(tokenCommand(global).exitOverride().showHelpAfterError());
  command.addCommand(hubInstallCommand(global).exitOverride().showHelpAfterError());
  return command;
}

/** The label selector of a Fleet's Devices, with an optional user selector. */
export function fleetSelector(fleet: string, selector?: string): string {
  return [`${fleetLabel}=${fleet}`, ...(selector ? [selector] : [])].join(',');
}
