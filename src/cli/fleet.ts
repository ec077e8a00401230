/**
 * `doris fleet status F` and `doris fleet devices F`: what a fleet runs, read from the hub's
 * cluster (the Fleet and its Devices), without going through the hub itself.
 */
import { Command } from 'commander';
import { type Device, type Fleet, hubApiVersion } from '../api/hub.js';
import { storedDeviceState } from '../hub/devices.js';
import { parseRolloutStatus } from '../hub/rollout/targets.js';
import { NotFoundError, connect, out, printResult, table, type GlobalOptions } from './common.js';
import { fleetRolloutCommands } from './fleet-rollout.js';
import { fleetSelector, hubNamespace, hubNamespaceHelp } from './hub.js';
import { compareStrings } from '../compare.js';
import { printable } from '../render/problems.js';

async function readFleet(global: GlobalOptions, namespace: string, name: string) {
  const client = await connect(global);
  try {
    const fleet = (await client.get({ apiVersion: hubApiVersion, kind: 'Fleet', namespace, name }).catch((error: unknown) => {
      throw new NotFoundError(`cannot read Fleet ${namespace}/${name} (is the hub installed? doris hub installs its CRDs): ${(error as Error).message}`);
    })) as unknown as Fleet | undefined;
    if (!fleet) throw new NotFoundError(`no Fleet ${namespace}/${name}`);
    return { client, fleet };
  } catch (error) {
    client.close();
    throw error;
  }
}

export interface DeviceRow {
  name: string;
  labels: Record<string, string>;
  state: string;
  ready: string;
  commit: string;
  revision: string;
  servedRevision: string;
  stage: string;
  /** A hub replica holds its poll now (then lastSeen is when it connected). */
  connected: boolean;
  servedBy: string;
  lastSeen: string;
  reason: string;
  message: string;
}

export function deviceRow(device: Device, now: number): DeviceRow {
  const report = device.status?.report;
  return {
    name: device.metadata.name,
    labels: device.metadata.labels ?? {},
    state: storedDeviceState(device, now),
    ready: report?.ready ?? '',
    commit: report?.commit ?? '',
    revision: report?.revision ?? '',
    servedRevision: device.status?.servedRevision ?? '',
    stage: device.status?.stage ?? '',
    connected: device.status?.connected === true,
    servedBy: device.status?.servedBy ?? '',
    lastSeen: device.status?.lastSeen ?? '',
    reason: report?.reason ?? '',
    message: report?.message ?? '',
  };
}

/** `doris fleet devices` as text. Reports come from devices: a cell must carry no terminal escapes, nor break the table. */
export function deviceTable(rows: readonly DeviceRow[]): string[] {
  const lines = rows.map((r) =>
    [
      r.name,
      r.state,
      r.ready || '-',
      r.commit.slice(0, 12) || '-',
      r.revision || '-',
      r.stage || '-',
      r.connected ? 'connected' : r.lastSeen || '-',
      r.reason,
    ].map(printable),
  );
  return table([['NAME', 'STATE', 'READY', 'COMMIT', 'REVISION', 'STAGE', 'LAST-SEEN', 'REASON'], ...lines]);
}

function counts(rows: DeviceRow[], revision: string | undefined) {
  const by = (state: string) => rows.filter((r) => r.state === state).length;
  return {
    total: rows.length,
    ready: by('ready'),
    failed: by('failed'),
    offline: by('offline'),
    unknown: by('unknown'),
    onRevision: revision ? rows.filter((r) => r.revision === revision && r.ready === 'True').length : 0,
  };
}

export function fleetCommand(global: () => GlobalOptions): Command {
  const fleet = new Command('fleet').description('what a fleet of devices runs (reads the hub’s Fleet and Devices)').addHelpText('after', hubNamespaceHelp);
  fleet
    .command('status')
    .description('a Fleet: its newest revision (commit, bundle, image digests), Ready, rollout, and its devices by state')
    .argument('<fleet>', 'the Fleet')
    .addHelpText('after', hubNamespaceHelp)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const options = global();
      const namespace = hubNamespace(command, options);
      const { client, fleet: f } = await readFleet(options, namespace, name);
      try {
        const devices = (await client.list(hubApiVersion, 'Device', { namespace, labelSelector: fleetSelector(name) })) as unknown as Device[];
        const now = Date.now();
        const rows = devices.map((d) => deviceRow(d, now));
        const revision = f.status?.revision;
        const summary = counts(rows, revision?.id);
        printResult(options, { name, namespace, spec: f.spec, status: f.status ?? {}, devices: summary }, () => {
          const spec = (f.spec ?? {}) as { git?: { url?: string; branch?: string; path?: string } };
          const ready = f.status?.conditions?.find((c) => c.type === 'Ready');
          out(`Fleet ${namespace}/${name}`);
          out(`  git:       ${spec.git?.url ?? '-'} (branch ${spec.git?.branch ?? 'main'}, path ${spec.git?.path ?? 'deploy'})`);
          out(`  ready:     ${ready ? `${ready.status} ${ready.reason}: ${ready.message}` : 'Unknown (not polled yet)'}`);
          if (revision) {
            out(
              `  revision:  ${revision.id} commit ${revision.commit.slice(0, 12)}, bundle ${revision.bundle} (${revision.bundleSize} bytes), since ${revision.createdAt}`,
            );
            for (const image of revision.images) out(`  image:     ${image.repository}:${image.tag}@${image.digest ?? '(unresolved)'}`);
          } else {
            out('  revision:  none yet');
          }
          if (f.status?.lastPolled) out(`  polled:    ${f.status.lastPolled}`);
          const rollout = f.status?.rollout as { state?: string; stage?: string } | undefined;
          if (rollout) out(`  rollout:   ${rollout.state ?? '-'}${rollout.stage ? ` at stage ${rollout.stage}` : ''}`);
          const staged = parseRolloutStatus(rollout);
          if (staged) {
            out(`             ${staged.message} (revision ${staged.revision}, last good ${staged.lastGood ?? 'none'})`);
            for (const s of staged.stages) {
              const when = s.completedAt
                ? `done ${s.completedAt}${s.skipped ? ` (${s.skipped})` : ''}`
                : s.readyAt
                  ? `soaking since ${s.readyAt}`
                  : s.startedAt
                    ? `since ${s.startedAt}`
                    : 'waiting';
              out(
                `  stage ${s.name}: ${s.devices} devices, ${s.updated} updated, ${s.ready} ready, ${s.failed} failed, ${s.offline} offline; runs ${s.revision ?? 'none'}; ${when}`,
              );
            }
          }
          out(
            `  devices:   ${summary.total} (${summary.ready} ready, ${summary.failed} failed, ${summary.offline} offline, ${summary.unknown} unknown); ${summary.onRevision} ready on ${revision?.id ?? 'the newest revision'}`,
          );
        });
      } finally {
        client.close();
      }
    });
  fleet
    .command('devices')
    .description('the devices of a Fleet: state, report (Ready, commit, revision), stage, last seen')
    .argument('<fleet>', 'the Fleet')
    .option('-l, --selector <selector>', 'only devices whose labels match (a Kubernetes label selector, e.g. site=north)')
    .addHelpText('after', hubNamespaceHelp)
    .action(async (name: string, flags: { selector?: string }, command: Command) => {
      const options = global();
      const namespace = hubNamespace(command, options);
      const { client } = await readFleet(options, namespace, name);
      try {
        const devices = (await client.list(hubApiVersion, 'Device', { namespace, labelSelector: fleetSelector(name, flags.selector) })) as unknown as Device[];
        const now = Date.now();
        const rows = devices.map((d) => deviceRow(d, now)).sort((a, b) => compareStrings(a.name, b.name));
        printResult(options, rows, () => {
          for (const line of deviceTable(rows)) out(line);
        });
      } finally {
        client.close();
      }
    });
  for (const command of fleetRolloutCommands(global)) fleet.addCommand(command);
  // Usage errors of subcommands exit 2 like the others (program.ts sets this on top-level commands only).
  for (const command of fleet.commands) command.exitOverride().showHelpAfterError();
  return fleet;
}
