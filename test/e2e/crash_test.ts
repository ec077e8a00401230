/**
 * Crash safety: `doris sync --once` is killed with SIGKILL at random points of multi-wave
 * syncs that add, change and prune objects; after every kill the Pipeline's status must not
 * claim a commit whose state is not fully there, and a final run converges exactly to the
 * last commit — including pruning objects that a killed run created.
 *
 * The kill points come from a seeded PRNG. The seed is printed at the start and in every
 * assertion message; `DORIS_CRASH_SEED=<seed> npm test -- test/e2e/crash_test.ts` replays
 * the same sequence of kill points (how far each run got before its kill still depends on
 * the machine's speed).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { startDoris, syncInline } from '../env/doris.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const ns = `e2e-crash-${process.pid}`;
const name = `crash-${process.pid}`;

/** The seed of this run: DORIS_CRASH_SEED, or a fresh one. */
function crashSeed(): number {
  const given = process.env.DORIS_CRASH_SEED;
  if (given === undefined || given === '') return randomInt(2 ** 32);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`DORIS_CRASH_SEED must be an integer from 0 to ${2 ** 32 - 1}, not ${JSON.stringify(given)}`);
  return seed;
}

/** mulberry32: a small, well-mixed 32-bit PRNG; the same seed gives the same sequence. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const seed = crashSeed();
const random = seededRandom(seed);
const replay = `seed ${seed}, replay with DORIS_CRASH_SEED=${seed}`;

before(async () => {
  console.log(`crash test: ${replay}`);
  env = loadTestEnv();
  api = await kube(env);
});

after(async () => {
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
});

const cm = (cmName: string, value: string) => configMapYaml(ns, cmName, { value });

/** Two variants of the same repository: shared objects, changed ones, and some only in one. */
function variant(v: 'a' | 'b', serial: number): Record<string, string | null> {
  const other = v === 'a' ? 'b' : 'a';
  const files: Record<string, string | null> = {
    'deploy/1-base/10-ns.yml': namespaceYaml(ns),
    'deploy/1-base/120-shared.yml': Array.from({ length: 6 }, (_, i) => cm(`shared-${i}`, `${v}${serial}`)).join('---\n'),
    [`deploy/1-base/130-${v}.yml`]: `${cm(`${v}-0`, v)}---\n${cm(`${v}-1`, v)}`,
    [`deploy/1-base/130-${other}.yml`]: null,
    'deploy/2-app/170-web.yml': deploymentYaml({ namespace: ns, name: 'web', image: 'registry.example/web:1', replicas: 2, args: [`${v}${serial}`] }),
    'deploy/2-app/200-svc.yml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: ${ns}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n`,
    [`deploy/3-late/120-${v}.yml`]: cm(`${v}-late`, v),
    [`deploy/3-late/120-${other}.yml`]: null,
  };
  return files;
}

function expectedConfigMaps(v: 'a' | 'b'): string[] {
  return [...Array.from({ length: 6 }, (_, i) => `shared-${i}`), `${v}-0`, `${v}-1`, `${v}-late`].sort();
}

interface Status {
  lastAppliedCommit?: string;
  pendingInventory?: unknown[];
  conditions?: Array<{ type: string; status: string }>;
}

async function status(): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${name}`, { accept: [404] });
  return res.status === 404 ? {} : (res.body.status ?? {});
}

/** The live state is exactly what variant `v` (commit number `serial`) describes. */
async function assertState(v: 'a' | 'b', serial: number, context: string): Promise<void> {
  const { body } = await api.request<{ items: Array<{ metadata: { name: string }; data: { value: string } }> }>('GET', `/api/v1/namespaces/${ns}/configmaps`, {
    query: { labelSelector: `doris.dev/pipeline=${name}` },
  });
  assert.deepEqual(body.items.map((i) => i.metadata.name).sort(), expectedConfigMaps(v), `${context}: the managed ConfigMaps`);
  for (const item of body.items.filter((i) => i.metadata.name.startsWith('shared-'))) {
    assert.equal(item.data.value, `${v}${serial}`, `${context}: ${item.metadata.name}`);
  }
  const web = await api.request<{ spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }>(
    'GET',
    `/apis/apps/v1/namespaces/${ns}/deployments/web`,
  );
  assert.deepEqual(web.body.spec.template.spec.containers[0]?.args, [`${v}${serial}`], `${context}: the Deployment`);
}

describe('crash safety', () => {
  it('converges after SIGKILL at 20+ random points and never claims a commit that was not fully applied', async () => {
    const { url } = await createRepo(env, 'crash', variant('a', 0));
    const first = await syncInline(env, name, url);
    assert.equal(first.code, 0, `${replay}: ${first.stderr}`);
    await assertState('a', 0, `${replay}: first sync`);

    let kills = 0;
    let claims = 0;
    const points: string[] = [];
    let serial = 0;
    let current: 'a' | 'b' = 'a';
    for (let attempt = 0; kills < 20 && attempt < 60; attempt++) {
      serial += 1;
      current = serial % 2 === 0 ? 'a' : 'b';
      const commit = await pushFiles(env, url, variant(current, serial), `variant ${current} #${serial}`);
      const { child, done } = startDoris(env, ['sync', '--once', '--repo', url, '--name', name]);
      // The kill point follows the sync's own progress, not the clock: after the k-th
      // progress line (commit fetched, each stage applied, each wave healthy, prune) plus a
      // random 0-150 ms, so kills land in every phase however fast the machine is — k = -1
      // kills during start-up and the fetch.
      const k = Math.floor(random() * 12) - 1;
      const extra = Math.floor(random() * 150);
      let lines = 0;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        timer ??= setTimeout(() => child.kill('SIGKILL'), extra);
      };
      if (k < 0) arm();
      child.stderr?.on('data', (chunk: Buffer) => {
        lines += chunk.toString('utf8').split('\n').filter(Boolean).length;
        if (lines > k) arm();
      });
      const result = await done;
      clearTimeout(timer);
      points.push(`${k}+${extra}ms`);
      if (result.signal === 'SIGKILL') kills += 1;
      else assert.equal(result.code, 0, `${replay}, run ${attempt} (kill point ${k}+${extra}ms): ${result.stderr}`);
      const s = await status();
      if (s.lastAppliedCommit === commit) {
        claims += 1;
        await assertState(current, serial, `${replay}: after run ${attempt} (killed after line ${k} + ${extra} ms, ${result.signal ?? 'completed'})`);
      }
    }
    assert.ok(kills >= 20, `${replay}: only ${kills} runs were killed mid-sync (points ${points.join(', ')})`);

    const final = await syncInline(env, name, url);
    assert.equal(final.code, 0, `${replay}: ${final.stderr}`);
    await assertState(current, serial, `${replay}: after the final sync`);
    const s = await status();
    assert.equal(s.pendingInventory?.length ?? 0, 0, `${replay}: pending inventory after the final sync`);
    assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'True', `${replay}: Ready after the final sync`);
    console.log(`crash test (${replay}): ${kills} SIGKILLs in ${points.length} runs, ${claims} claims checked, kill points (line+delay) ${points.join(', ')}`);
  });
});
