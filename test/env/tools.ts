/**
 * The command-line tools DORIS runs while rendering — `kustomize` (docs/adr/0012-kustomize.md)
 * and `sops` (docs/adr/0011-sops.md) — and `age-keygen`, with which tests make a fresh age key
 * on every run. Like the control plane (build.ts), each is built from its Go module and cached
 * by version under the test environment's cache, so that only the first run on a machine
 * pays for the build (measured on 2 cores, modules already downloaded: kustomize 19 s, sops
 * and age-keygen 98 s; downloading sops's modules, mostly cloud-KMS clients, adds a minute or two).
 *
 * The helper modules under `test/tools/` pin what is built; the cache key is the hash of their
 * go.mod and go.sum plus the Go version, so a version bump rebuilds. Tests call `ensureTools`
 * themselves (a cache hit costs one `go env`), so they work whether or not the running
 * environment was brought up before these tools existed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, repoRoot } from './paths.js';
import { execFileP } from './proc.js';

export const toolModulesDir = join(repoRoot, 'test', 'tools');

type ToolModule = 'kustomize' | 'sops';

interface Tool {
  binary: 'kustomize' | 'sops' | 'age-keygen';
  module: ToolModule;
  pkg: string;
}

const tools: Tool[] = [
  { binary: 'kustomize', module: 'kustomize', pkg: 'sigs.k8s.io/kustomize/kustomize/v5' },
  { binary: 'sops', module: 'sops', pkg: 'github.com/getsops/sops/v3/cmd/sops' },
  { binary: 'age-keygen', module: 'sops', pkg: 'filippo.io/age/cmd/age-keygen' },
];

export type ToolName = Tool['binary'];

/** The module a helper module pins for its tool, and the version, read from its go.mod. */
export function pinnedToolVersion(module: ToolModule): string {
  const gomod = readFileSync(join(toolModulesDir, module, 'go.mod'), 'utf8');
  const dep = { kustomize: 'sigs.k8s.io/kustomize/kustomize/v5', sops: 'github.com/getsops/sops/v3' }[module];
  const match = new RegExp(`^\\s*(?:require\\s+)?${dep.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!match?.[1]) throw new Error(`cannot find ${dep} in test/tools/${module}/go.mod`);
  return match[1];
}

async function toolDir(module: ToolModule): Promise<string> {
  const { stdout } = await execFileP('go', ['env', 'GOVERSION']);
  const dir = join(toolModulesDir, module);
  const hash = createHash('sha256');
  hash.update(stdout.trim());
  hash.update('CGO_ENABLED=0');
  hash.update(readFileSync(join(dir, 'go.mod')));
  hash.update(readFileSync(join(dir, 'go.sum')));
  return join(cacheRoot, `${module}-${pinnedToolVersion(module)}-${hash.digest('hex').slice(0, 12)}`, 'bin');
}

function goBuild(tool: Tool, out: string, log: (line: string) => void): Promise<void> {
  const version = pinnedToolVersion(tool.module);
  // The version is what `kustomize version` and `sops --version` print.
  const ldflags = tool.binary === 'kustomize' ? `-s -w -X sigs.k8s.io/kustomize/api/provenance.version=${version}` : '-s -w';
  const args = ['build', '-trimpath', '-ldflags', ldflags, '-o', out, tool.pkg];
  return new Promise((resolveBuild, reject) => {
    const started = Date.now();
    const child = spawn('go', args, {
      cwd: join(toolModulesDir, tool.module),
      // Static, as the image's are (Dockerfile): the binaries tests run are the ones that ship.
      env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const ticker = setInterval(() => log(`  still building ${tool.binary} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolveBuild();
      else reject(new Error(`go build ${tool.pkg} failed with exit code ${code}`));
    });
  });
}

/** Builds the missing tools into the cache; returns every tool's path. */
export async function ensureTools(log: (line: string) => void = console.error): Promise<Record<ToolName, string>> {
  const paths = {} as Record<ToolName, string>;
  const missing: Tool[] = [];
  for (const tool of tools) {
    paths[tool.binary] = join(await toolDir(tool.module), tool.binary);
    if (!existsSync(paths[tool.binary])) missing.push(tool);
  }
  for (const tool of missing) {
    const final = paths[tool.binary];
    const started = Date.now();
    log(`go build ${tool.binary} ${pinnedToolVersion(tool.module)} into ${cacheRoot} (first run on this machine only)`);
    mkdirSync(join(final, '..'), { recursive: true });
    // Built under a temporary name and renamed: an interrupted build never leaves a
    // half-written binary that a later run would take for a cached one.
    const tmp = `${final}.partial-${process.pid}`;
    try {
      await goBuild(tool, tmp, log);
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { force: true });
    }
    log(`${tool.binary} built in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return paths;
}
