/**
 * Where the API server is and how to authenticate to it: an explicit kubeconfig, the
 * `KUBECONFIG` variable, the in-cluster ServiceAccount, or `~/.kube/config` — in that order.
 *
 * The common cases (tokens, token files, client certificates, basic auth, in-cluster) are
 * read here with `yaml`; `@kubernetes/client-node` is loaded only for kubeconfigs that use
 * an `exec` plugin or an `auth-provider`. Importing it costs some 70 MiB of resident memory,
 * more than the rest of DORIS together, which matters on a small edge device
 * (docs/adr/0008-kubeconfig-loading.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface Connection {
  server: URL;
  tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized: boolean };
  /** The Authorization header for the next request; token files are re-read, as they rotate. */
  authorization(): Promise<string | undefined>;
}

const inClusterDir = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedCluster {
  name: string;
  cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean };
}
interface NamedUser {
  name: string;
  user?: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    username?: string;
    password?: string;
    exec?: unknown;
    'auth-provider'?: unknown;
  };
}
interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context'?: string;
}

/** A token file, re-read at most every minute (projected ServiceAccount tokens rotate). */
function tokenFileReader(path: string): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > 60_000) cached = { token: readFileSync(path, 'utf8').trim(), at: Date.now() };
    return `Bearer ${cached.token}`;
  };
}

function inCluster(): Connection | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(inClusterDir, 'token'))) return undefined;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: new URL(`https://${hostPart}:${port}`),
    tls: { ca: readFileSync(join(inClusterDir, 'ca.crt')), rejectUnauthorized: true },
    authorization: tokenFileReader(join(inClusterDir, 'token')),
  };
}

/** Falls back to client-node for `exec` plugins and `auth-provider`s (loaded only then). */
async function viaClientNode(path: string, context?: string): Promise<Connection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  if (context) kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${path}: no current cluster`);
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  return {
    server: new URL(cluster.server),
    tls: {
      ca: tls.ca as Buffer | undefined,
      cert: tls.cert as Buffer | undefined,
      key: tls.key as Buffer | undefined,
      rejectUnauthorized: tls.rejectUnauthorized !== false,
    },
    authorization: async () => {
      const opts: https.RequestOptions = { headers: {} };
      await kc.applyToHTTPSOptions(opts);
      return (opts.headers as Record<string, string | undefined>).Authorization ?? (opts.headers as Record<string, string | undefined>).authorization;
    },
  };
}

/** `wanted` names a context instead of the file's current one (`--context`). */
export async function fromKubeconfigFile(path: string, wanted?: string): Promise<Connection> {
  const config = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
  const contextName = wanted ?? config['current-context'];
  const base = dirname(path);
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : join(base, p));
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`${path}: ${wanted ? '' : 'current '}context ${contextName ?? '(none)'} not found`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${path}: cluster ${context.cluster} not found or has no server`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec || user['auth-provider']) return viaClientNode(path, contextName);

  const b64 = (data: string) => Buffer.from(data, 'base64');
  const ca = cluster['certificate-authority-data']
    ? b64(cluster['certificate-authority-data'])
    : cluster['certificate-authority']
      ? file(cluster['certificate-authority'])
      : undefined;
  const cert = user['client-certificate-data']
    ? b64(user['client-certificate-data'])
    : user['client-certificate']
      ? file(user['client-certificate'])
      : undefined;
  const key = user['client-key-data'] ? b64(user['client-key-data']) : user['client-key'] ? file(user['client-key']) : undefined;
  let authorization: () => Promise<string | undefined> = async () => undefined;
  if (user.token) {
    const header = `Bearer ${user.token}`;
    authorization = async () => header;
  } else if (user.tokenFile) authorization = tokenFileReader(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
  else if (user.username && user.password) {
    const header = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    authorization = async () => header;
  }
  return { server: new URL(cluster.server), tls: { ca, cert, key, rejectUnauthorized: !cluster['insecure-skip-tls-verify'] }, authorization };
}

/**
 * The explicit file, else KUBECONFIG (its first existing file), else in-cluster, else
 * ~/.kube/config. A `context` names a kubeconfig context instead of the current one (and so
 * never means in-cluster).
 */
export async function loadConnection(kubeconfig?: string, context?: string): Promise<Connection> {
  if (kubeconfig) return fromKubeconfigFile(kubeconfig, context);
  const fromEnv = (process.env.KUBECONFIG ?? '')
    .split(':')
    .filter(Boolean)
    .find((p) => existsSync(p));
  if (fromEnv) return fromKubeconfigFile(fromEnv, context);
  const cluster = context ? undefined : inCluster();
  if (cluster) return cluster;
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromKubeconfigFile(home, context);
  throw new Error('no kubeconfig: set KUBECONFIG or --kubeconfig, or run inside a cluster');
}
