/**
 * The baseline: what a person would script with kubectl. The same files as DORIS's
 * repository, applied with `kubectl apply --server-side` step by step and wave by wave in
 * DORIS's order (every Namespace first, as DORIS's prelude does), with `kubectl wait` for
 * the wave's Deployments (Available) and Jobs (Complete) after each wave.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestEnv } from '../test/env/testenv.js';
import type { Workload } from './workload.js';

export interface KubectlResult {
  seconds: number;
  apply_s: number;
  wait_s: number;
  invocations: number;
}

function kubectl(env: TestEnv, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(env.KUBECTL, args, { env: { ...process.env, KUBECONFIG: env.KUBECONFIG }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(env: TestEnv, args: string[]): Promise<void> {
  const res = await kubectl(env, args);
  if (res.code !== 0) throw new Error(`kubectl ${args.slice(0, 3).join(' ')} ... failed (${res.code}): ${res.stderr.trim().slice(0, 2000)}`);
}

export async function kubectlBaseline(env: TestEnv, workload: Workload, log: (line: string) => void): Promise<KubectlResult> {
  const dir = mkdtempSync(join(tmpdir(), 'doris-bench-kubectl-'));
  try {
    for (const [path, content] of Object.entries(workload.files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const apply = (files: string[]) => must(env, ['apply', '--server-side', '--field-manager=bench', ...files.flatMap((f) => ['-f', join(dir, f)])]);
    let applyMs = 0;
    let waitMs = 0;
    let invocations = 0;
    const started = performance.now();
    let t = performance.now();
    await apply(workload.waves.map((w) => w.namespaceFile));
    invocations += 1;
    applyMs += performance.now() - t;
    for (const wave of workload.waves) {
      t = performance.now();
      for (const step of wave.steps) {
        await apply(step.files);
        invocations += 1;
      }
      applyMs += performance.now() - t;
      t = performance.now();
      await must(env, ['wait', '--for=condition=Available', 'deployment', '--all', '-n', wave.namespace, '--timeout=5m']);
      await must(env, ['wait', '--for=condition=Complete', 'job', '--all', '-n', wave.namespace, '--timeout=5m']);
      invocations += 2;
      const w = performance.now() - t;
      waitMs += w;
      log(`wave ${wave.number}: applied and healthy (wait ${(w / 1000).toFixed(2)} s)`);
    }
    return { seconds: (performance.now() - started) / 1000, apply_s: applyMs / 1000, wait_s: waitMs / 1000, invocations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
