/**
 * `doris hub install`: applies (server-side apply) the hub's ServiceAccount and RBAC, a
 * Deployment of `doris hub` and its Service into the hub namespace, or prints them with
 * `--dry-run` (src/hub/install.ts is the one source; config/hub.yaml is the same for the
 * default namespace). The hub installs its own CRDs when it starts.
 */
import { Command, Option } from 'commander';
import { hubInstallObjects, hubWebhookSecretName, renderHubInstallYaml } from '../hub/install.js';
import { defaultImage } from '../install/manifests.js';
import { UsageError, connect, integerFlag, out, printJson, printResult, say, type GlobalOptions } from './common.js';
import { hubNamespace, hubNamespaceHelp } from './hub.js';

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

interface InstallFlags {
  image: string;
  replicas: number;
  tlsSecret?: string;
  dryRun?: boolean;
}

export function hubInstallCommand(global: () => GlobalOptions): Command {
  return new Command('install')
    .description('install the hub in the current cluster: its ServiceAccount, RBAC, a Deployment of `doris hub` and a Service (--dry-run prints them)')
    .addOption(new Option('--image <ref>', 'the DORIS image').default(defaultImage))
    .addOption(
      new Option('--replicas <n>', 'hub replicas (one leads and polls upstream; all serve devices)').argParser(integerFlag('--replicas 2', 1, 100)).default(2),
    )
    .option('--tls-secret <name>', 'serve HTTPS with this kubernetes.io/tls Secret of the hub namespace (without it: plain HTTP for a TLS-terminating ingress)')
    .option('--dry-run', 'print the objects (YAML, or JSON with -o json) instead of applying them')
    .addHelpText('after', `${hubNamespaceHelp}\nWebhook credentials, optional: Secret ${hubWebhookSecretName} with keys github-secret and registry-token.`)
    .action(async (flags: InstallFlags, command: Command) => {
      const options = global();
      const namespace = hubNamespace(command, options);
      // `doris hub` has a --tls-secret of its own: commander hands the flag to the parent when it follows `install`.
      flags.tlsSecret ??= command.parent?.opts<{ tlsSecret?: string }>().tlsSecret;
      if (!dnsLabel.test(namespace)) throw new UsageError(`--namespace ${JSON.stringify(namespace)} is not a valid namespace name (a DNS label)`);
      if (flags.tlsSecret !== undefined && !dnsSubdomain.test(flags.tlsSecret)) {
        throw new UsageError(`--tls-secret ${JSON.stringify(flags.tlsSecret)} is not a valid Secret name`);
      }
      if (!flags.image.trim() || /\s/.test(flags.image)) throw new UsageError(`--image ${JSON.stringify(flags.image)} is not an image reference`);
      const install = { namespace, image: flags.image, replicas: flags.replicas, tlsSecret: flags.tlsSecret };
      if (flags.dryRun) {
        if (options.output === 'json') printJson({ apiVersion: 'v1', kind: 'List', items: hubInstallObjects(install) });
        else out(renderHubInstallYaml(install).trimEnd());
        return;
      }
      const client = await connect(options);
      try {
        const applied: Array<{ kind: string; name: string; namespace?: string; created: boolean }> = [];
        for (const object of hubInstallObjects(install)) {
          const { created } = await client.apply(object, { manager: 'doris-hub-install' });
          applied.push({
            kind: object.kind,
            name: object.metadata.name,
            ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
            created,
          });
        }
        if (flags.tlsSecret && !(await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: flags.tlsSecret }))) {
          say(
            `warning: Secret ${namespace}/${flags.tlsSecret} does not exist yet; the hub will not start until it does (kubectl -n ${namespace} create secret tls ${flags.tlsSecret} --cert=... --key=...)`,
          );
        }
        if (!flags.tlsSecret)
          say('note: the hub serves plain HTTP (--insecure-http): put a TLS-terminating ingress in front of Service doris-hub, or pass --tls-secret');
        printResult(options, { namespace, objects: applied }, () => {
          for (const a of applied) out(`${a.kind}/${a.name} ${a.created ? 'created' : 'configured'}`);
        });
      } finally {
        client.close();
      }
    });
}
