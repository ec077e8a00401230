/**
 * The real control plane of the test environment (SPEC.md section 9): etcd, kube-apiserver
 * with RBAC, kube-controller-manager, kube-scheduler, and kwok simulating one Ready node so
 * that Pods become Running and Ready. Each component is its own process on a free loopback
 * port, recorded by PID. A pool of PersistentVolumes lets PVCs bind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { KubeHttp } from '../../src/kube/http.js';
import { binaryPath, kwokModuleDir } from './build.js';
import { ensurePki, type Pki } from './pki.js';
import { freePorts } from './ports.js';
import { startDaemon, waitFor, type Daemon } from './proc.js';

export interface ClusterInfo {
  kubeconfig: string;
  apiserverUrl: string;
  auditLog: string;
  daemons: Daemon[];
}

/**
 * The API server's audit policy: every write (with the user, verb, object and a timestamp
 * in microseconds), so that tests can prove the order of writes and count them; Deployment
 * status updates with their bodies, so that tests can tell when a rollout completed.
 * Reads and the noise of node heartbeats and leases are not logged.
 */
const auditPolicyYaml = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [kwok]
- level: None
  resources: [{group: coordination.k8s.io, resources: [leases]}, {group: "", resources: [events]}, {group: events.k8s.io, resources: [events]}]
- level: RequestResponse
  verbs: [update, patch]
  resources: [{group: apps, resources: [deployments/status]}]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
`;

/** The fake node's name: tests that want a Pod to be unschedulable pick another node. */
export const fakeNodeName = 'kwok-node-0';
export const storageClassName = 'standard';
const pvPoolSize = 40;

function kubeconfigYaml(server: string, caFile: string, user: string, token: string): string {
  const ca = readFileSync(caFile).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: testenv',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: testenv',
    '  context:',
    '    cluster: testenv',
    `    user: ${user}`,
    'current-context: testenv',
    '',
  ].join('\n');
}

function httpsOk(url: string, ca: Buffer | undefined, token?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, rejectUnauthorized: ca !== undefined, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

async function startEtcd(dir: string, clientPort: number, peerPort: number): Promise<Daemon> {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const daemon = startDaemon('etcd', await binaryPath('etcd'), [
    '--name=default',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // Test data is disposable: skipping fsync makes every write much faster.
    '--unsafe-no-fsync',
    '--quota-backend-bytes=4294967296',
    '--log-level=warn',
  ]);
  await waitFor(
    'etcd health',
    async () => {
      const res = await fetch(`${client}/health`).catch(() => undefined);
      return res?.ok;
    },
    { daemon, timeoutMs: 30_000 },
  );
  return daemon;
}

/** Starts the whole control plane; `dir` is the environment's state folder. */
export async function startCluster(dir: string, log: (line: string) => void): Promise<ClusterInfo> {
  const clusterDir = join(dir, 'cluster');
  mkdirSync(clusterDir, { recursive: true });
  const pki: Pki = await ensurePki(join(clusterDir, 'pki'));
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = (await freePorts(6)) as [number, number, number, number, number, number];
  const daemons: Daemon[] = [];

  log(`etcd on 127.0.0.1:${etcdClient}`);
  daemons.push(await startEtcd(clusterDir, etcdClient, etcdPeer));

  const tokens = {
    admin: randomBytes(24).toString('hex'),
    kcm: randomBytes(24).toString('hex'),
    scheduler: randomBytes(24).toString('hex'),
    kwok: randomBytes(24).toString('hex'),
  };
  const tokenFile = join(clusterDir, 'tokens.csv');
  writeFileSync(
    tokenFile,
    [
      `${tokens.admin},admin,admin-uid,"system:masters"`,
      `${tokens.kcm},system:kube-controller-manager,kcm-uid`,
      `${tokens.scheduler},system:kube-scheduler,scheduler-uid`,
      `${tokens.kwok},kwok,kwok-uid,"system:masters"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const auditPolicy = join(clusterDir, 'audit-policy.yaml');
  writeFileSync(auditPolicy, auditPolicyYaml);
  const auditLog = join(dir, 'logs', 'audit.log');

  const apiserverUrl = `https://127.0.0.1:${apiPort}`;
  log(`kube-apiserver on ${apiserverUrl}`);
  const apiserver = startDaemon('kube-apiserver', await binaryPath('kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(clusterDir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    // A loopback advertise address is not a valid Endpoints IP: nothing in-cluster
    // talks to the `kubernetes` Service here, so its reconciler is off.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    `--audit-policy-file=${auditPolicy}`,
    `--audit-log-path=${auditLog}`,
    '--audit-log-format=json',
    '--audit-log-maxsize=0',
    '--v=1',
  ]);
  daemons.push(apiserver);
  const ca = readFileSync(pki.caCert);
  await waitFor('kube-apiserver /readyz', () => httpsOk(`${apiserverUrl}/readyz`, ca, tokens.admin), {
    daemon: apiserver,
    timeoutMs: 90_000,
  });

  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(apiserverUrl, pki.caCert, 'admin', tokens.admin), { mode: 0o600 });
  const kcmConfig = join(clusterDir, 'kcm.kubeconfig');
  writeFileSync(kcmConfig, kubeconfigYaml(apiserverUrl, pki.caCert, 'kcm', tokens.kcm), { mode: 0o600 });
  const schedConfig = join(clusterDir, 'scheduler.kubeconfig');
  writeFileSync(schedConfig, kubeconfigYaml(apiserverUrl, pki.caCert, 'scheduler', tokens.scheduler), { mode: 0o600 });
  const kwokConfig = join(clusterDir, 'kwok.kubeconfig');
  writeFileSync(kwokConfig, kubeconfigYaml(apiserverUrl, pki.caCert, 'kwok', tokens.kwok), { mode: 0o600 });

  log(`kube-controller-manager on 127.0.0.1:${kcmPort}`);
  const kcm = startDaemon('kube-controller-manager', await binaryPath('kube-controller-manager'), [
    `--kubeconfig=${kcmConfig}`,
    `--authentication-kubeconfig=${kcmConfig}`,
    `--authorization-kubeconfig=${kcmConfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${kcmPort}`,
    `--cert-dir=${join(clusterDir, 'kcm-certs')}`,
    `--root-ca-file=${pki.caCert}`,
    `--service-account-private-key-file=${pki.saKey}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    '--controllers=*',
    // Quicker garbage collection and namespace deletion keep tests short; the default client
    // rate limit (20 QPS) would make rollouts of hundreds of Deployments (benchmarks) wait
    // on the controller-manager itself rather than on anything under test.
    '--concurrent-gc-syncs=20',
    '--concurrent-namespace-syncs=10',
    '--concurrent-deployment-syncs=20',
    '--concurrent-replicaset-syncs=20',
    '--concurrent-job-syncs=20',
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
    '--v=1',
  ]);
  daemons.push(kcm);

  log(`kube-scheduler on 127.0.0.1:${schedPort}`);
  const scheduler = startDaemon('kube-scheduler', await binaryPath('kube-scheduler'), [
    `--kubeconfig=${schedConfig}`,
    `--authentication-kubeconfig=${schedConfig}`,
    `--authorization-kubeconfig=${schedConfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${schedPort}`,
    `--cert-dir=${join(clusterDir, 'scheduler-certs')}`,
    '--leader-elect=false',
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
    '--v=1',
  ]);
  daemons.push(scheduler);

  const stagesFile = join(clusterDir, 'kwok-stages.yaml');
  writeFileSync(stagesFile, await kwokStages());
  log(`kwok on 127.0.0.1:${kwokPort}`);
  const kwok = startDaemon('kwok', await binaryPath('kwok'), [
    `--kubeconfig=${kwokConfig}`,
    `--config=${stagesFile}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--server-address=127.0.0.1:${kwokPort}`,
    '--node-ip=127.0.0.1',
    '--cidr=10.244.0.0/16',
  ]);
  daemons.push(kwok);

  const kube = await KubeHttp.fromKubeconfigFile(kubeconfig);
  try {
    await seedCluster(kube);
    await waitFor(
      'kube-controller-manager (default ServiceAccount)',
      async () => {
        const res = await kube.request('GET', '/api/v1/namespaces/default/serviceaccounts/default', { accept: [404] });
        return res.status === 200;
      },
      { daemon: kcm, timeoutMs: 60_000 },
    );
    await waitFor('kube-scheduler /healthz', () => httpsOk(`https://127.0.0.1:${schedPort}/healthz`, undefined), {
      daemon: scheduler,
      timeoutMs: 60_000,
    });
    await waitFor(
      `node ${fakeNodeName} Ready`,
      async () => {
        const res = await kube.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>('GET', `/api/v1/nodes/${fakeNodeName}`);
        return res.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      { daemon: kwok, timeoutMs: 60_000 },
    );
  } finally {
    kube.close();
  }
  return { kubeconfig, apiserverUrl, auditLog, daemons };
}

/**
 * kwok's Stage configs, read from the pinned kwok module rather than copied: the stage sets
 * `node/fast` (initialise), `node/heartbeat` and `pod/fast` (ready, complete, delete at
 * once, without the general set's random delays), each as listed by its kustomization.
 */
async function kwokStages(): Promise<string> {
  const root = join(await kwokModuleDir(), 'kustomize', 'stage');
  const documents: string[] = [];
  for (const set of ['node/fast', 'node/heartbeat', 'pod/fast']) {
    const kustomization = parse(readFileSync(join(root, set, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
    for (const file of kustomization.resources ?? []) documents.push(readFileSync(join(root, set, file), 'utf8').trim());
  }
  if (documents.length === 0) throw new Error(`no kwok stages found under ${root}`);
  return `${documents.join('\n---\n')}\n`;
}

/** The fake node, a default StorageClass, and a pool of PersistentVolumes. */
async function seedCluster(kube: KubeHttp): Promise<void> {
  const apply = (path: string, body: unknown) =>
    kube.request('PATCH', path, {
      query: { fieldManager: 'testenv', force: true },
      body,
      contentType: 'application/apply-patch+yaml',
    });
  await apply(`/api/v1/nodes/${fakeNodeName}`, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: fakeNodeName,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': fakeNodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'arm64',
        type: 'kwok',
      },
    },
    status: {
      allocatable: { cpu: '1000', memory: '4Ti', pods: '5000' },
      capacity: { cpu: '1000', memory: '4Ti', pods: '5000' },
    },
  });
  await apply(`/apis/storage.k8s.io/v1/storageclasses/${storageClassName}`, {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: storageClassName, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'Immediate',
    reclaimPolicy: 'Retain',
  });
  await Promise.all(
    Array.from({ length: pvPoolSize }, (_, i) =>
      apply(`/api/v1/persistentvolumes/testenv-pv-${i}`, {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `testenv-pv-${i}` },
        spec: {
          capacity: { storage: '10Gi' },
          accessModes: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'],
          storageClassName,
          persistentVolumeReclaimPolicy: 'Retain',
          hostPath: { path: `/tmp/testenv-pv-${i}` },
        },
      }),
    ),
  );
}
