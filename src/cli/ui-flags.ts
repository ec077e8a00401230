/**
 * The dashboard's authentication flags of `doris run`, and the configuration they make
 * (src/server/ui/auth.ts explains the modes). Refusals are usage errors (exit 2): `none` on
 * an address other than loopback, `proxy` without trusted proxy addresses or allow-lists.
 * Tokens come from files (re-read within a few seconds of a change) or from a Secret in the
 * controller namespace (re-read every minute); they are never logged. The webhook credentials
 * of `doris run` are read the same way (SecretKeys, CredentialFile).
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import { isLoopbackHost, type RoleTokens, type UiAuthConfig, validTrustedEntry } from '../server/ui/auth.js';
import { UsageError } from './common.js';

export interface UiFlags {
  uiAuth?: 'token' | 'proxy' | 'none';
  uiTokenFile?: string;
  uiViewerTokenFile?: string;
  uiSecretName: string;
  uiProxyTrusted?: string[];
  uiProxyUserHeader: string;
  uiProxyGroupsHeader: string;
  uiProxyOperatorUsers?: string[];
  uiProxyOperatorGroups?: string[];
  uiProxyViewerUsers?: string[];
  uiProxyViewerGroups?: string[];
}

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

export function uiOptions(): Option[] {
  return [
    new Option('--ui-auth <mode>', 'dashboard and /api authentication (default: none when --listen is loopback, else token)').choices([
      'token',
      'proxy',
      'none',
    ]),
    new Option('--ui-token-file <file>', 'operator token of the dashboard (default: key operator-token of the dashboard Secret)'),
    new Option('--ui-viewer-token-file <file>', 'viewer token of the dashboard (default: key viewer-token of the dashboard Secret)'),
    new Option('--ui-secret-name <name>', 'Secret in the controller namespace holding operator-token and viewer-token').default('doris-ui'),
    new Option('--ui-proxy-trusted <addresses>', 'with --ui-auth proxy: comma-separated IPs or IPv4 CIDRs of the auth proxy').argParser(list),
    new Option('--ui-proxy-user-header <name>', 'with --ui-auth proxy: header naming the user').default('X-Forwarded-User'),
    new Option('--ui-proxy-groups-header <name>', 'with --ui-auth proxy: header listing the groups, comma-separated').default('X-Forwarded-Groups'),
    new Option('--ui-proxy-operator-users <users>', 'with --ui-auth proxy: users with the operator role (comma-separated, * for all)').argParser(list),
    new Option('--ui-proxy-operator-groups <groups>', 'with --ui-auth proxy: groups with the operator role').argParser(list),
    new Option('--ui-proxy-viewer-users <users>', 'with --ui-auth proxy: users with the viewer role (comma-separated, * for all)').argParser(list),
    new Option('--ui-proxy-viewer-groups <groups>', 'with --ui-auth proxy: groups with the viewer role').argParser(list),
  ];
}

/**
 * The keys of a Secret in the controller namespace, decoded, as `refresh` last read them. Only
 * a Secret that is gone (404) empties them: any other failure (a 500, a timeout) keeps what
 * was read before, or one hiccup of the API server would refuse every webhook and end every
 * session until the next refresh. Shared by the webhook credentials and the dashboard tokens.
 */
export class SecretKeys {
  private values: Record<string, string> = {};

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  async refresh(): Promise<void> {
    let secret: { data?: Record<string, string> } | undefined;
    try {
      secret = (await this.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: this.name })) as typeof secret;
    } catch (error) {
      this.log.warn(
        { namespace: this.namespace, secretName: this.name, err: (error as Error).message },
        'could not read the Secret; keeping the values read before',
      );
      return;
    }
    this.values = Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8').trim()]));
  }

  /** Undefined when the key is absent or blank. */
  get(key: string): string | undefined {
    return this.values[key] || undefined;
  }
}

/** How long a credential file's content is used before it is read again (a rotated file is seen within this). */
export const credentialFileMaxAgeMs = 5_000;

/**
 * A credential in a file (a mounted Secret, rotated in place), read at most every `maxAgeMs`
 * rather than on each request. A file that cannot be read counts as no credential, so that
 * what needs it is refused as not configured; that is warned once, then again only after the
 * file was readable in between.
 */
export class CredentialFile {
  private last: { at: number; value: string | undefined } | undefined;
  private failing = false;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly maxAgeMs = credentialFileMaxAgeMs,
  ) {}

  value(): string | undefined {
    const now = Date.now();
    if (this.last && now - this.last.at < this.maxAgeMs) return this.last.value;
    let value: string | undefined;
    try {
      value = readFileSync(this.file, 'utf8').trim() || undefined;
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log.warn({ file: this.file, err: (error as Error).message }, 'could not read a credential file; treating it as not configured');
      this.failing = true;
    }
    this.last = { at: now, value };
    return value;
  }
}

/** Tokens from files (checked every few seconds) or the dashboard Secret (refreshed by `refresh`). */
export class UiTokens {
  private readonly fromSecret: SecretKeys;
  private readonly fromFiles: { operator?: CredentialFile; viewer?: CredentialFile } | undefined;

  constructor(
    client: KubeClient,
    namespace: string,
    secretName: string,
    files: { operator?: string; viewer?: string },
    log: Logger,
    fileMaxAgeMs = credentialFileMaxAgeMs,
  ) {
    this.fromSecret = new SecretKeys(client, namespace, secretName, log);
    const file = (path: string | undefined) => (path ? new CredentialFile(path, log, fileMaxAgeMs) : undefined);
    // A token file for either role means files only: a role without one has no token.
    if (files.operator || files.viewer) this.fromFiles = { operator: file(files.operator), viewer: file(files.viewer) };
  }

  async refresh(): Promise<void> {
    if (!this.fromFiles) await this.fromSecret.refresh();
  }

  tokens(): RoleTokens {
    if (this.fromFiles) return { operator: this.fromFiles.operator?.value(), viewer: this.fromFiles.viewer?.value() };
    return { operator: this.fromSecret.get('operator-token'), viewer: this.fromSecret.get('viewer-token') };
  }
}

/** The dashboard's authentication from the flags; a UsageError for combinations that would expose it. */
export function uiAuthFromFlags(flags: UiFlags, listenHost: string, tokens: () => RoleTokens): UiAuthConfig {
  const loopback = isLoopbackHost(listenHost);
  const mode = flags.uiAuth ?? (loopback ? 'none' : 'token');
  if (mode === 'none') {
    if (!loopback) {
      throw new UsageError(
        `--ui-auth none serves the dashboard and its actions to anyone who can connect: it needs a loopback --listen (e.g. 127.0.0.1:8080), not ${listenHost || 'all interfaces'}; use --ui-auth token or proxy`,
      );
    }
    return { mode: 'none' };
  }
  if (mode === 'token') return { mode: 'token', tokens };
  const trusted = flags.uiProxyTrusted ?? [];
  if (trusted.length === 0)
    throw new UsageError('--ui-auth proxy needs --ui-proxy-trusted: the address(es) of the auth proxy, e.g. --ui-proxy-trusted 10.0.0.5');
  const bad = trusted.filter((t) => !validTrustedEntry(t));
  if (bad.length > 0) throw new UsageError(`--ui-proxy-trusted: not an IP address or IPv4 CIDR: ${bad.join(', ')}`);
  const operators = { users: flags.uiProxyOperatorUsers ?? [], groups: flags.uiProxyOperatorGroups ?? [] };
  const viewers = { users: flags.uiProxyViewerUsers ?? [], groups: flags.uiProxyViewerGroups ?? [] };
  if ([operators, viewers].every((a) => a.users.length + a.groups.length === 0)) {
    throw new UsageError('--ui-auth proxy needs an allow-list: --ui-proxy-operator-users/-groups and/or --ui-proxy-viewer-users/-groups');
  }
  return { mode: 'proxy', trusted, userHeader: flags.uiProxyUserHeader, groupsHeader: flags.uiProxyGroupsHeader, operators, viewers };
}
