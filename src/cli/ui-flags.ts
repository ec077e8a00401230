/**
 * The dashboard's authentication flags of `doris run`, and the configuration they make
 * (src/server/ui/auth.ts explains the modes). Refusals are usage errors (exit 2): `none` on
 * an address other than loopback, `proxy` without trusted proxy addresses or allow-lists.
 * Tokens come from files (re-read within a few seconds of a change) or from a Secret in the
 * controller namespace (re-read every minute); they are never logged.
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

/** Tokens from files (checked every few seconds) or the dashboard Secret (refreshed by `refresh`). */
export class UiTokens {
  private fromSecret: RoleTokens = {};
  private fromFiles: { at: number; tokens: RoleTokens } | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly secretName: string,
    private readonly files: { operator?: string; viewer?: string },
    private readonly log: Logger,
  ) {}

  async refresh(): Promise<void> {
    if (this.files.operator || this.files.viewer) return;
    const secret = (await this.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: this.secretName }).catch(() => undefined)) as
      | { data?: Record<string, string> }
      | undefined;
    const read = (key: string) => {
      const value = secret?.data?.[key];
      const text = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8').trim();
      return text || undefined;
    };
    this.fromSecret = { operator: read('operator-token'), viewer: read('viewer-token') };
  }

  tokens(): RoleTokens {
    if (!this.files.operator && !this.files.viewer) return this.fromSecret;
    if (this.fromFiles && Date.now() - this.fromFiles.at < 5_000) return this.fromFiles.tokens;
    const read = (file: string | undefined) => {
      if (!file) return undefined;
      try {
        return readFileSync(file, 'utf8').trim() || undefined;
      } catch (error) {
        this.log.warn({ file, err: (error as Error).message }, 'could not read a dashboard token file');
        return undefined;
      }
    };
    this.fromFiles = { at: Date.now(), tokens: { operator: read(this.files.operator), viewer: read(this.files.viewer) } };
    return this.fromFiles.tokens;
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
