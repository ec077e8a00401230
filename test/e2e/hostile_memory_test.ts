/**
 * Memory is bounded by limits, not by luck (issue 16.6): a `doris run` controller, started
 * the way its image starts it (node with `dorisNodeFlags`) and authorized as the shipped
 * ServiceAccount, retries each hostile commit of the table below at least three times, and its
 * peak RSS (the kernel's VmHWM of the node process that runs the CLI) stays under the 256 Mi
 * memory limit of the shipped Deployment. The peak is reset to the current RSS when a commit
 * is pushed, so a row's figure is the highest the process reached while it worked on that
 * commit (including what its heap kept from the rows before). At the end the same controller,
 * never restarted, applies a good commit.
 *
 * The controller runs through tsx here, whose loader adds some 35 MiB of RSS the compiled
 * image does not pay (bench/build.ts): the figures are an upper bound of the product's.
 * Git's own processes are not counted: they are children with their own RSS.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { dorisNodeFlags } from '../../src/install/nodeflags.js';
import { installObjects } from '../../src/install/manifests.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { startController, type RunningController } from '../env/doris.js';
import { bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { delay } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

const MiB = 1024 * 1024;
const run = `${process.pid}`;
const controllerNs = `doris-mem-${run}`;
const appNs = `e2e-mem-${run}`;
const pipeline = 'hostile';

// --- the hostile commits: one row each, the input inline, the problem the status must show ---

const cm = (name: string, extra = ''): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${appNs}\n${extra}`;
/** `count` step files in wave folder `dir`; identical contents are one blob in git. */
const files = (dir: string, count: number, content: (i: number) => string | Buffer): Record<string, string | Buffer> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`deploy/${dir}/${10 + i}-f.yml`, content(i)]));

const separators = '---\n'.repeat(MiB / 4).slice(0, MiB - 1);
const aliased90 = `${cm('bomb')}data:\n  a: &a "${'x'.repeat(600 * 1024)}"\n${Array.from({ length: 89 }, (_, i) => `  b${i}: *a\n`).join('')}`;
const brackets = `a: ${'['.repeat(MiB - 4)}`;
const laughs = `${['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n')}\n`;
const smallKeys = (() => {
  let text = cm('keys', 'data:\n');
  for (let k = 0; text.length < MiB - 20; k++) text += `  k${k.toString(36)}: v\n`;
  return text;
})();
/**
 * A ConfigMap whose one value is a double-quoted string filling the file to just under 1 MiB:
 * the YAML package builds such a string a character at a time (ADR 0002), the most garbage per
 * byte of the forms measured (single-quoted, block and plain scalars, escapes: all lower).
 */
const doubleQuoted = (i: number): string => {
  const head = cm(`q-${i}`, 'data:\n  v: "');
  return `${head}${'x'.repeat(MiB - head.length - 3)}"\n`;
};
/** Just under the 100,000 YAML nodes of a file: five of them are just under the 500,000 of a commit. */
const manyKeys = (i: number): string => `${cm(`k-${i}`, 'data:\n')}${Array.from({ length: 49_900 }, (_, k) => `  k${k}: v${k}\n`).join('')}`;
/** Within every render limit but for one invalid name: the whole commit is parsed and held before the sync fails. */
const bad = (dir: string) => ({ [`deploy/${dir}/99-bad.yml`]: cm('Bad') });
const notUtf8 = Buffer.concat([Buffer.from(cm('u', 'data:\n  v: "')), Buffer.alloc(MiB - 200, 0x78), Buffer.from([0xff]), Buffer.from('"\n')]);

interface Row {
  name: string;
  dir: string;
  files: Record<string, string | Buffer>;
  /** Part of the Ready condition's message: the file, where, and why. */
  problem: string;
}

const rows: Row[] = [
  {
    name: '64 files of 1 MiB of bare "---"',
    dir: '5-sep',
    files: files('5-sep', 64, () => separators),
    problem: 'deploy/5-sep/10-f.yml:1001:1: file has more than 1000 YAML documents',
  },
  {
    name: 'a 600 KB string aliased 90 times',
    dir: '5-alias',
    files: files('5-alias', 1, () => aliased90),
    problem: 'deploy/5-alias/10-f.yml:1:1: document is over 3145728 bytes once its aliases are expanded',
  },
  {
    name: '64 files of a 600 KB string aliased 90 times',
    dir: '5-alias64',
    files: files('5-alias64', 64, () => aliased90),
    problem: 'deploy/5-alias64/10-f.yml:1:1: document is over 3145728 bytes once its aliases are expanded',
  },
  {
    name: '64 files of 1 MiB of "[[[["',
    dir: '5-brackets',
    files: files('5-brackets', 64, () => brackets),
    problem: 'deploy/5-brackets/10-f.yml:1:103: nesting deeper than 100 levels',
  },
  {
    name: 'a billion laughs',
    dir: '5-laughs',
    files: files('5-laughs', 1, () => laughs),
    problem: 'deploy/5-laughs/10-f.yml:1:1: document is over 3145728 bytes once its aliases are expanded',
  },
  {
    name: '64 files of 1 MiB of small map keys',
    dir: '5-keys',
    files: files('5-keys', 64, () => smallKeys),
    problem: 'deploy/5-keys/10-f.yml:50002:3: file has more than 100000 YAML nodes',
  },
  {
    name: 'within the limits: 31 files of a 1 MiB double-quoted string',
    dir: '5-dq',
    files: { ...files('5-dq', 31, doubleQuoted), ...bad('5-dq') },
    problem: 'deploy/5-dq/99-bad.yml:4:9: ConfigMap e2e-mem',
  },
  {
    name: 'within the limits: 5 ConfigMaps of 49,900 keys (499,000 YAML nodes)',
    dir: '5-nodes',
    files: { ...files('5-nodes', 5, manyKeys), ...bad('5-nodes') },
    problem: 'deploy/5-nodes/99-bad.yml:4:9: ConfigMap e2e-mem',
  },
  {
    name: '64 files of 1 MiB ending in a byte that is not UTF-8',
    dir: '5-utf8',
    files: files('5-utf8', 64, () => notUtf8),
    problem: 'file is not UTF-8: byte 0xff at byte offset',
  },
];

// --- the controller and what it shows ---

let env: TestEnv;
let api: KubeHttp;
let repoUrl: string;
let kubeconfig: string;
let controller: RunningController;
let pid: number;
const peaks: Array<{ name: string; mib: number; attempts: number; seconds: number }> = [];
/** The memory limit of the shipped Deployment's container, e.g. `256Mi`. */
const shippedLimit = (() => {
  const deployment = installObjects().find((o) => o.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { containers: Array<{ resources: { limits: { memory: string } } }> } } };
  };
  return deployment.spec.template.spec.containers[0]!.resources.limits.memory;
})();
const limitMiB = (() => {
  const match = /^(\d+)Mi$/.exec(shippedLimit);
  assert.ok(match, `the shipped memory limit ${shippedLimit} is not in Mi`);
  return Number(match[1]);
})();

interface Status {
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

async function status(): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${pipeline}`);
  return res.body.status ?? {};
}

const ready = (s: Status) => s.conditions?.find((c) => c.type === 'Ready');

function assertAlive(): void {
  assert.equal(controller.child.exitCode, null, `the controller exited:\n${controller.logs().slice(-3000)}`);
  assert.equal(controller.child.signalCode, null, `the controller was killed:\n${controller.logs().slice(-3000)}`);
  assert.doesNotMatch(controller.logs(), /heap out of memory|Reached heap limit/);
}

/** Polls `check` until it returns a value; fails at once when the controller is gone. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertAlive();
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting for ${what}; Ready: ${JSON.stringify(ready(await status()))}`);
    await delay(200);
  }
}

/** The kernel's peak resident set of the controller process, in MiB. */
function peakRssMiB(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'no VmHWM in /proc/PID/status');
  return Number(match[1]) / 1024;
}

/** Starts a new peak: VmHWM becomes the current RSS (proc(5), clear_refs "5"). */
function resetPeak(): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

async function buildFailures(): Promise<number> {
  const text = await (await fetch(`${controller.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('doris_syncs_total{') && l.includes(`pipeline="${pipeline}"`) && l.includes('result="BuildFailed"'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

const good = (value: string) => ({
  'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
  'deploy/1-base/20-cm.yml': configMapYaml(appNs, 'settings', { value }),
});

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url: repoUrl } = await createRepo(env, 'hostile-memory', good('v1')));
  await bootstrapInstall(env, controllerNs, repoUrl, pipeline);
  kubeconfig = await serviceAccountKubeconfig(env, api, controllerNs);
  controller = startController(env, ['--namespace', controllerNs, '--poll-interval', '1s'], { kubeconfig, port: await freePort(), nodeFlags: dorisNodeFlags });
  pid = controller.child.pid!;
  // The PID read below must be the node process running the CLI, not a wrapper around it.
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.some((a) => a.endsWith('src/cli/main.ts')) && dorisNodeFlags.every((f) => argv.includes(f)), argv.join(' '));
  await until('the first sync', async () => (ready(await status())?.status === 'True' ? true : undefined));
  console.log(`controller PID ${pid}, node flags ${dorisNodeFlags.join(' ')}: peak RSS after the first sync ${peakRssMiB().toFixed(0)} MiB`);
});

after(async () => {
  if (controller) {
    const stopped = await controller.stop();
    console.log(`controller stopped: exit code ${stopped.code}`);
  }
  console.log(`peak RSS per hostile commit (limit ${limitMiB} MiB):`);
  for (const p of peaks) console.log(`  ${p.mib.toFixed(0).padStart(4)} MiB  ${p.attempts} failed syncs in ${p.seconds.toFixed(1)} s  ${p.name}`);
  await removeInstall(api, controllerNs, kubeconfig, [appNs]);
  api.close();
});

describe(`the controller stays under its ${shippedLimit} memory limit while retrying hostile commits`, () => {
  let previous: Row | undefined;
  for (const row of rows) {
    it(row.name, async () => {
      const started = Date.now();
      const changes: Record<string, string | Buffer | null> = { ...row.files };
      if (previous) changes[`deploy/${previous.dir}`] = null;
      previous = row;
      const commit = await pushFiles(env, repoUrl, changes, row.name);
      resetPeak();
      const shown = await until(`BuildFailed for ${commit.slice(0, 12)}`, async () => {
        const s = await status();
        const r = ready(s);
        return s.lastAttemptedCommit === commit && r?.status === 'False' && r.reason === 'BuildFailed' ? r : undefined;
      });
      assert.ok(shown.message.includes(row.problem), `Ready message does not name the problem "${row.problem}":\n${shown.message}`);
      const first = await buildFailures();
      const attempts = await until('three more failed syncs of the commit', async () => {
        const n = await buildFailures();
        return n >= first + 3 ? n - first : undefined;
      });
      assert.equal((await status()).lastAttemptedCommit, commit);
      const mib = peakRssMiB();
      peaks.push({ name: row.name, mib, attempts: attempts + 1, seconds: (Date.now() - started) / 1000 });
      console.log(`${row.name}: peak RSS ${mib.toFixed(0)} MiB over ${attempts + 1} failed syncs`);
      assertAlive();
      assert.ok(mib < limitMiB, `peak RSS ${mib.toFixed(0)} MiB is over the ${limitMiB} MiB limit`);
    });
  }

  it('the same controller process, never restarted, then applies a good commit', async () => {
    const commit = await pushFiles(env, repoUrl, { ...good('v2'), ...(previous ? { [`deploy/${previous.dir}`]: null } : {}) }, 'good again');
    await until('Ready=True for the good commit', async () => {
      const s = await status();
      return s.lastAppliedCommit === commit && ready(s)?.status === 'True' ? true : undefined;
    });
    const { body } = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${appNs}/configmaps/settings`);
    assert.equal(body.data?.value, 'v2');
    assert.equal(controller.child.pid, pid);
    assertAlive();
  });
});
