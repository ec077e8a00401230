/**
 * `doris bootstrap --hub URL --fleet F --enrollment-token-file T`: the agent side of
 * enrollment. The device enrolls once with the enrollment token and keeps the device token
 * the hub returns in a Secret of the controller namespace; the Pipeline follows the hub
 * (`spec.hub`) instead of git, so the device holds no git or registry credentials at all.
 *
 * Enrolling happens before anything is installed: a refused or expired enrollment token
 * installs nothing. Running bootstrap again with the device already enrolled for the same hub
 * and fleet keeps its token and does not spend another use of the enrollment token.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../render/types.js';
import { HubClient, defaultHubClientOptions } from '../source/hub.js';
import { UsageError } from './common.js';

export const hubTokenSecretName = 'doris-hub-token';

export interface HubBootstrapFlags {
  hub?: string;
  fleet?: string;
  enrollmentTokenFile?: string;
  labels?: string;
  deviceName?: string;
  hubCaFile?: string;
  hubInsecure?: boolean;
  targetNamespace?: string;
}

/** The options `doris bootstrap` gains for hub mode. */
export function addHubOptions(command: Command): Command {
  return command
    .option('--hub <url>', 'follow a fleet hub instead of git (https://...); needs --fleet and --enrollment-token-file')
    .option('--fleet <name>', 'with --hub: the Fleet this device joins')
    .option('--enrollment-token-file <file>', 'with --hub: a file holding the enrollment token (`doris hub token create`)')
    .option('--labels <k=v,...>', "with --hub: the device's labels (rollout stages select on them)")
    .option('--device-name <name>', "with --hub: the device's name on the hub (default: the UID of this cluster's kube-system namespace)")
    .option('--hub-ca-file <file>', "with --hub: a CA certificate (PEM) the hub's certificate chains to, when it is not publicly trusted")
    .option('--hub-insecure', 'with --hub: allow plain http:// to a hub that is not on loopback (trusted networks only)')
    .option('--target-namespace <ns>', 'namespace for namespaced objects that name none (default: default)');
}

/** `k=v,k2=v2` → labels; a usage error names the bad pair. */
export function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (text ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels: "${pair}" is not key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

/** The Pipeline spec of a hub agent (validated by the caller like any spec). */
export function hubPipelineSpec(flags: HubBootstrapFlags): Record<string, unknown> {
  if (!flags.hub || !flags.fleet || !flags.enrollmentTokenFile) throw new UsageError('--hub needs --fleet and --enrollment-token-file');
  return {
    hub: { url: flags.hub, fleet: flags.fleet, secretRef: { name: hubTokenSecretName }, ...(flags.hubInsecure ? { insecure: true } : {}) },
    ...(flags.targetNamespace ? { targetNamespace: flags.targetNamespace } : {}),
  };
}

async function defaultDeviceName(client: KubeClient): Promise<string> {
  const namespace = await client.get({ apiVersion: 'v1', kind: 'Namespace', name: 'kube-system' });
  const uid = namespace?.metadata.uid;
  if (typeof uid !== 'string' || uid === '') throw new UsageError('cannot read the UID of the kube-system namespace to name this device: give --device-name');
  return uid;
}

/**
 * Enrolls the device (unless it already is, for this hub and fleet) and returns the Secret
 * that holds its token, to be applied with the rest of the install.
 */
export async function enrollForBootstrap(client: KubeClient, namespace: string, flags: HubBootstrapFlags, say: (line: string) => void): Promise<KubeObject> {
  const hub = flags.hub as string;
  const fleet = flags.fleet as string;
  const ca = flags.hubCaFile ? readFileSync(flags.hubCaFile, 'utf8') : undefined;
  const existing = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: hubTokenSecretName })) as
    | (KubeObject & { data?: Record<string, string> })
    | undefined;
  const read = (key: string) => (existing?.data?.[key] ? Buffer.from(existing.data[key], 'base64').toString('utf8') : undefined);
  if (existing && read('hub') === hub && read('fleet') === fleet && read('token')) {
    say(`device already enrolled in fleet ${fleet} at ${hub}: its token is kept`);
    return tokenSecret(namespace, { token: read('token') as string, hub, fleet, ...(ca ? { 'ca.crt': ca } : {}) });
  }
  const enrollmentToken = readFileSync(flags.enrollmentTokenFile as string, 'utf8').trim();
  const device = flags.deviceName ?? (await defaultDeviceName(client));
  const answer = await new HubClient(hub, undefined, { ...defaultHubClientOptions(), ca }).enroll({
    fleet,
    device,
    labels: parseLabels(flags.labels),
    enrollmentToken,
  });
  say(`enrolled as device ${answer.device} in fleet ${answer.fleet}`);
  return tokenSecret(namespace, { token: answer.token, hub, fleet, ...(ca ? { 'ca.crt': ca } : {}) });
}

function tokenSecret(namespace: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: hubTokenSecretName, namespace, labels: { 'app.kubernetes.io/part-of': 'doris' } },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}
