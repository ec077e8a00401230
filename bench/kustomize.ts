/**
 * `npm run bench:kustomize` (issue 14, "Measure"): what the kustomize step costs, and what
 * the kustomize and sops binaries add to the image.
 *
 *   1. The same 200 objects (120 ConfigMaps, 80 Secrets) in one wave, once as plain files of
 *      one step and once as a kustomize wave (a kustomization.yaml listing the same files; also
 *      one step): a cold `doris sync --once` of each (compiled DORIS, a fresh namespace and
 *      Pipeline per repetition, alternating which goes first), medians; then, apart from the
 *      cluster's noise, the render of each in this process (11 times) and `kustomize build` of
 *      the folder alone.
 *   2. The size of the kustomize and sops binaries DORIS runs (built by test/env/tools.ts for
 *      this machine), raw and gzip-compressed (as an image layer is sent).
 *
 * Prints a table and writes bench/results/kustomize.json. Brings the test environment up if it
 * is not (and down again at the end).
 *
 *   npm run bench:kustomize                 # 5 repetitions
 *   npm run bench:kustomize -- --reps 1
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { dorisEnv } from '../test/env/doris.js';
import { down, up } from '../test/env/lifecycle.js';
import { envFile } from '../test/env/paths.js';
import { createRepo, kube, loadTestEnv } from '../test/env/testenv.js';
import { ensureTools } from '../test/env/tools.js';
import { renderRepo } from '../src/render/layout.js';
import { shippedRuntime } from './build.js';
import { deleteNamespaces, deletePipeline } from './cluster.js';

const log = (line: string) => console.error(`bench: ${line}`);
const reps = Number(process.argv.includes('--reps') ? process.argv[process.argv.indexOf('--reps') + 1] : 5);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Ten files of 20 objects: 12 ConfigMaps and 8 Secrets each. No Services: on a loaded 2-core
 * machine their ClusterIP allocation times out now and then, which says nothing about kustomize.
 */
function objectFiles(namespace: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f < 10; f++) {
    const docs: string[] = [];
    for (let i = 0; i < 12; i++)
      docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${f}-${i}\n  namespace: ${namespace}\ndata:\n  value: "${f}-${i}"\n`);
    for (let i = 0; i < 8; i++)
      docs.push(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-${f}-${i}\n  namespace: ${namespace}\nstringData:\n  value: "${f}-${i}"\n`);
    // One step (10-), as a kustomize wave is: the difference is the kustomize build alone.
    files[`10-objects-${f}.yaml`] = docs.join('---\n');
  }
  return files;
}

function repoFiles(namespace: string, kustomize: boolean): Record<string, string> {
  const objects = objectFiles(namespace);
  const files: Record<string, string> = { 'deploy/1-namespace/10-namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n` };
  for (const [name, content] of Object.entries(objects)) files[`deploy/2-objects/${name}`] = content;
  if (kustomize)
    files['deploy/2-objects/kustomization.yaml'] = `resources:\n${Object.keys(objects)
      .map((n) => `  - ${n}\n`)
      .join('')}`;
  return files;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; code: number | null; output: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('close', (code) => resolve({ seconds: (performance.now() - started) / 1000, code, output }));
  });
}

function binarySize(path: string): { bytes: number; gzip_bytes: number } {
  return { bytes: statSync(path).size, gzip_bytes: gzipSync(readFileSync(path), { level: 9 }).length };
}

async function main(): Promise<void> {
  const broughtUp = !existsSync(envFile);
  await up();
  const env = loadTestEnv();
  const api = await kube(env);
  const tools = await ensureTools(log);
  const runtime = await shippedRuntime(log);
  const run = `${process.pid}`;
  const results: Record<'plain' | 'kustomize', number[]> = { plain: [], kustomize: [] };
  const buildTimes: number[] = [];
  const renderTimes: Record<'plain' | 'kustomize', number[]> = { plain: [], kustomize: [] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      // Which goes first alternates: the first sync after a namespace deletion may pay for its clean-up.
      const order = rep % 2 === 0 ? (['plain', 'kustomize'] as const) : (['kustomize', 'plain'] as const);
      for (const variant of order) {
        const namespace = `bench-kust-${run}-${variant}-${rep}`;
        const pipeline = `bench-kust-${run}-${variant}-${rep}`;
        const { url } = await createRepo(env, `bench-kust-${variant}`, repoFiles(namespace, variant === 'kustomize'));
        const args = [...runtime.argsFor('src/cli/main.ts'), 'sync', '--once', '--repo', url, '--name', pipeline, '--kustomize-path', tools.kustomize];
        try {
          const result = await timed(process.execPath, args, dorisEnv(env));
          if (result.code !== 0) throw new Error(`${variant} sync failed: ${result.output}`);
          results[variant].push(result.seconds);
          log(`rep ${rep + 1}/${reps} ${variant}: ${result.seconds.toFixed(2)} s`);
        } finally {
          await deletePipeline(api, 'doris-system', pipeline);
          await deleteNamespaces(api, [namespace]);
        }
      }
    }
    // The render alone (in this process, what a sync does before it writes), plain and
    // kustomize alternating, and kustomize build alone: the kustomize step's own cost, apart
    // from the cluster's noise.
    const dir = mkdtempSync(join(os.tmpdir(), 'doris-bench-kust-'));
    try {
      for (const variant of ['plain', 'kustomize'] as const) {
        for (const [path, content] of Object.entries(repoFiles('bench-local', variant === 'kustomize'))) {
          mkdirSync(dirname(join(dir, variant, path)), { recursive: true });
          writeFileSync(join(dir, variant, path), content);
        }
      }
      for (let i = 0; i < 11; i++) {
        for (const variant of ['plain', 'kustomize'] as const) {
          const started = performance.now();
          await renderRepo(join(dir, variant), 'deploy', { kustomize: { binary: tools.kustomize } });
          renderTimes[variant].push((performance.now() - started) / 1000);
        }
        const started = performance.now();
        await new Promise<void>((resolve, reject) =>
          execFile(tools.kustomize, ['build', join(dir, 'kustomize/deploy/2-objects')], { maxBuffer: 16 * 1024 * 1024 }, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        buildTimes.push((performance.now() - started) / 1000);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    runtime.dispose();
    api.close();
    if (broughtUp) await down();
  }

  const plain = median(results.plain);
  const kust = median(results.kustomize);
  const sizes = { kustomize: binarySize(tools.kustomize), sops: binarySize(tools.sops) };
  const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, arch: process.arch, node: process.version },
    objects: 200,
    repetitions: reps,
    cold_sync_s: {
      plain: round(plain),
      kustomize: round(kust),
      difference: round(kust - plain),
      all: { plain: results.plain.map((s) => round(s)), kustomize: results.kustomize.map((s) => round(s)) },
    },
    render_s: { plain: round(median(renderTimes.plain), 3), kustomize: round(median(renderTimes.kustomize), 3) },
    kustomize_build_s: round(median(buildTimes), 3),
    binaries: sizes,
  };
  mkdirSync(join(dirname(fileURLToPath(import.meta.url)), 'results'), { recursive: true });
  writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'results', 'kustomize.json'), `${JSON.stringify(report, null, 2)}\n`);
  const table = [
    '| figure | value |',
    '| --- | --- |',
    `| cold sync, 200 objects as plain files | ${plain.toFixed(2)} s |`,
    `| cold sync, the same as a kustomize wave | ${kust.toFixed(2)} s (${kust - plain >= 0 ? '+' : ''}${(kust - plain).toFixed(2)} s) |`,
    `| render of the wave (parse, check; in process) | plain ${median(renderTimes.plain).toFixed(3)} s, kustomize ${median(renderTimes.kustomize).toFixed(3)} s |`,
    `| kustomize build of the folder alone | ${median(buildTimes).toFixed(3)} s |`,
    `| kustomize binary (${process.arch}) | ${mib(sizes.kustomize.bytes)} MiB, ${mib(sizes.kustomize.gzip_bytes)} MiB gzip |`,
    `| sops binary (${process.arch}) | ${mib(sizes.sops.bytes)} MiB, ${mib(sizes.sops.gzip_bytes)} MiB gzip |`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
