/**
 * Builds the control plane from Go modules (SPEC.md section 9) and caches the binaries by
 * version outside the repo, so that only the first run on a machine pays for the build.
 *
 * Three helper modules under `test/cluster/` pin what is built: `kube` (k8s.io/kubernetes:
 * kube-apiserver, kube-controller-manager, kube-scheduler), `etcd` (go.etcd.io/etcd/server/v3
 * at the version Kubernetes pins) and `kwok` (fake nodes). The cache key of each is the
 * hash of its go.mod and go.sum plus the Go version, so a version bump rebuilds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cacheRoot, clusterModulesDir } from './paths.js';
import { execFileP } from './proc.js';

interface Component {
  binary: string;
  module: 'kube' | 'etcd' | 'kwok';
  /** Package to build, relative to the helper module. */
  pkg: string;
  ldflags?: (version: string) => string;
}

const kubeVersionFlags = (v: string): string => {
  const [major, minor] = v.replace(/^v/, '').split('.');
  return [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=${v}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${v}`,
  ].join(' ');
};

export const components: Component[] = [
  { binary: 'etcd', module: 'etcd', pkg: '.', ldflags: () => '-s -w' },
  { binary: 'kube-apiserver', module: 'kube', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', ldflags: kubeVersionFlags },
  { binary: 'kube-controller-manager', module: 'kube', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager', ldflags: kubeVersionFlags },
  { binary: 'kube-scheduler', module: 'kube', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler', ldflags: kubeVersionFlags },
  { binary: 'kubectl', module: 'kube', pkg: 'k8s.io/kubernetes/cmd/kubectl', ldflags: kubeVersionFlags },
  { binary: 'kwok', module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok', ldflags: () => '-s -w' },
];

/** The version a helper module pins for its main dependency, read from its go.mod. */
export function pinnedVersion(module: Component['module']): string {
  const gomod = readFileSync(join(clusterModulesDir, module, 'go.mod'), 'utf8');
  const dep = { kube: 'k8s.io/kubernetes', etcd: 'go.etcd.io/etcd/server/v3', kwok: 'sigs.k8s.io/kwok' }[module];
  const match = new RegExp(`^\\s*(?:require\\s+)?${dep.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!match?.[1]) throw new Error(`cannot find ${dep} in test/cluster/${module}/go.mod`);
  return match[1];
}

async function goVersion(): Promise<string> {
  const { stdout } = await execFileP('go', ['env', 'GOVERSION']);
  return stdout.trim();
}

function moduleKey(module: Component['module'], go: string): string {
  const dir = join(clusterModulesDir, module);
  const hash = createHash('sha256');
  hash.update(go);
  hash.update(readFileSync(join(dir, 'go.mod')));
  hash.update(readFileSync(join(dir, 'go.sum')));
  return hash.digest('hex').slice(0, 12);
}

/** Folder holding the binaries of one helper module at its pinned version. */
export async function binDir(module: Component['module']): Promise<string> {
  const go = await goVersion();
  return join(cacheRoot, `${module}-${pinnedVersion(module)}-${moduleKey(module, go)}`, 'bin');
}

export async function binaryPath(binary: string): Promise<string> {
  const component = components.find((c) => c.binary === binary);
  if (!component) throw new Error(`unknown component ${binary}`);
  return join(await binDir(component.module), binary);
}

function goBuild(component: Component, version: string, out: string, log: (line: string) => void): Promise<void> {
  const args = ['build', '-trimpath', '-ldflags', component.ldflags?.(version) ?? '-s -w', '-o', out, component.pkg];
  return new Promise((resolveBuild, reject) => {
    const started = Date.now();
    const child = spawn('go', args, {
      cwd: join(clusterModulesDir, component.module),
      env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // A cold build of the control plane takes many minutes: show that it is alive.
    const ticker = setInterval(() => {
      log(`  still building ${component.binary} (${Math.round((Date.now() - started) / 1000)} s)`);
    }, 30_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolveBuild();
      else reject(new Error(`go build ${component.pkg} failed with exit code ${code}`));
    });
  });
}

/**
 * Ensures every binary exists in the cache, building the missing ones. Returns a map from
 * binary name to path.
 */
export async function ensureBinaries(log: (line: string) => void = console.error): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  const missing = [];
  for (const component of components) {
    const path = await binaryPath(component.binary);
    paths[component.binary] = path;
    if (!existsSync(path)) missing.push(component);
  }
  if (missing.length > 0) {
    log(`Building ${missing.map((c) => c.binary).join(', ')} from Go modules into ${cacheRoot}`);
    log('(first run on this machine only: expect 15-30 minutes on 2 cores; later runs reuse the cache)');
  }
  let index = 0;
  for (const component of missing) {
    index += 1;
    const version = pinnedVersion(component.module);
    const started = Date.now();
    log(`[${index}/${missing.length}] go build ${component.binary} ${version}`);
    const final = paths[component.binary]!;
    const dir = join(final, '..');
    mkdirSync(dir, { recursive: true });
    // Build to a temporary name and rename, so an interrupted build never leaves a
    // half-written binary that a later run would take for a cached one.
    const tmp = `${final}.partial-${process.pid}`;
    try {
      await goBuild(component, version, tmp, log);
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { force: true });
    }
    log(`[${index}/${missing.length}] ${component.binary} built in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return paths;
}

/** The kwok module's own copy in the module cache: its Stage configs are read from there. */
export async function kwokModuleDir(): Promise<string> {
  const { stdout } = await execFileP('go', ['list', '-m', '-f', '{{.Dir}}', 'sigs.k8s.io/kwok'], {
    cwd: join(clusterModulesDir, 'kwok'),
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  return stdout.trim();
}
