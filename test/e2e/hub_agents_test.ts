/**
 * A hub and three real agents, end to end: `doris hub` runs as its own ServiceAccount with
 * the test cluster as its central cluster; each agent is a `doris run` with its own controller
 * namespace, bootstrapped with `doris bootstrap --hub`, running as its shipped ServiceAccount
 * and applying into its own namespace. The agents hold no git or registry credentials.
 *
 * Proven: all three converge on a new commit and on a new image digest pushed under the same
 * tag; the git server's and the registry's logs show requests from the hub only; `kubectl get
 * devices` shows them at the new commit, Ready; after the hub is killed (SIGKILL) and started
 * again the agents reconnect and nothing is re-applied; a device whose Device was deleted is
 * refused and its Pipeline's status says so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import type { RunningController } from '../env/doris.js';
import {
  type Agent,
  agentFor,
  appFiles,
  createFleet,
  devices,
  enrollmentTokenFile,
  type HubSetup,
  liveState,
  removeAgent,
  removeHub,
  setupHub,
  startAgent,
  startHub,
} from '../env/hub.js';
import { serviceAccountUser } from '../env/identity.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

const execFileP = promisify(execFile);
let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const fleet = 'edge';
const imageName = `hub-e2e-${run}/app`;
let image: string;
let repoUrl: string;
let hubSetup: HubSetup;
let hub: RunningController | undefined;
let firstCommit: string;
let firstDigest: string;
let agents: Agent[] = [];

/** Waits until every agent runs `commit` with `value` and `digest`, and its Device says so (Ready). */
async function converged(what: string, commit: string, value: string, digest: string): Promise<void> {
  try {
    await waitFor(
      what,
      async () => {
        const byName = new Map((await devices(api, hubSetup)).map((d) => [d.metadata.name, d]));
        for (const agent of agents) {
          const report = byName.get(agent.device)?.status?.report;
          if (report?.commit !== commit || report.ready !== 'True' || !report.images?.some((i) => i.digest === digest)) return false;
          const state = await liveState(api, agent);
          if (state.value !== value || state.image !== `${image}:main@${digest}`) return false;
        }
        return true;
      },
      { timeoutMs: 120_000 },
    );
  } catch (error) {
    const states = await Promise.all(agents.map(async (a) => ({ agent: a.name, live: await liveState(api, a) })));
    throw new Error(`${(error as Error).message}; devices: ${JSON.stringify(await devices(api, hubSetup))}; live: ${JSON.stringify(states)}`);
  }
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  image = `${env.REGISTRY}/${imageName}`;
  firstDigest = await pushTestImage(env, imageName, 'main', `hub-v1-${run}`);
  ({ url: repoUrl, commit: firstCommit } = await createRepo(env, 'hub-agents', appFiles(image, 'v1')));
  hubSetup = await setupHub(env, api, `hub-agents-${run}`);
  agents = [1, 2, 3].map((i) => agentFor(env, String(i), run, `ring=r${i}`));
});

after(async () => {
  for (const agent of agents) await removeAgent(api, agent);
  await removeHub(api, hubSetup, hub);
  api.close();
});

describe('a hub and three agents', () => {
  it('converge on a new commit and on a new image digest, with the hub alone talking to git and the registry', async () => {
    const logMark = {
      git: readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log'), 'utf8').length,
      registry: readFileSync(env.REGISTRY_LOG, 'utf8').length,
    };
    hub = await startHub(env, hubSetup);
    await createFleet(api, hubSetup, fleet, repoUrl, image);
    const tokenFile = await enrollmentTokenFile(env, hubSetup, fleet, agents.length);
    try {
      for (const agent of agents) await startAgent(env, api, agent, hub.url, fleet, tokenFile);
    } finally {
      rmSync(tokenFile, { force: true });
    }
    await converged('all three agents run the first commit', firstCommit, 'v1', firstDigest);

    const second = await pushFiles(env, repoUrl, appFiles(image, 'v2'), 'v2');
    await converged('all three agents run the new commit', second, 'v2', firstDigest);

    const d2 = await pushTestImage(env, imageName, 'main', `hub-v2-${run}`);
    assert.notEqual(d2, firstDigest);
    await converged('all three agents run the new digest, with no new commit', second, 'v2', d2);

    const table = await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, '-n', hubSetup.namespace, 'get', 'devices']);
    const rows = table.stdout.trim().split('\n');
    assert.match(rows[0]!, /READY\s+COMMIT.*LAST-SEEN\s+AGE/);
    for (const agent of agents) assert.match(rows.find((r) => r.startsWith(agent.device)) ?? '', new RegExp(`\\bTrue\\s+${second.slice(0, 7)}`), table.stdout);

    // Only the hub asked the git server and the registry: agents introduce themselves as doris/.
    const gitLines = readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log'), 'utf8')
      .slice(logMark.git)
      .split('\n')
      .filter((l) => l.includes(repoUrl.split('/').at(-1)!));
    assert.ok(gitLines.length > 0, 'the hub fetched from the git server');
    assert.deepEqual(
      gitLines.filter((l) => !/"doris-hub\//.test(l) && !l.endsWith('"doris-tests"')),
      [],
      'git requests other than the hub and the test pushes',
    );
    assert.ok(gitLines.some((l) => /"doris-hub\//.test(l)));
    const registryLines = readFileSync(env.REGISTRY_LOG, 'utf8')
      .slice(logMark.registry)
      .split('\n')
      .filter((l) => l.includes(imageName) && l.includes('useragent=doris'));
    assert.ok(registryLines.length > 0, 'the hub asked the registry');
    assert.deepEqual(
      registryLines.filter((l) => !l.includes('useragent=doris-hub/')),
      [],
      'registry requests by agents',
    );
  });

  it('after the hub is killed and started again, the agents reconnect and re-apply nothing', async () => {
    assert.ok(hub, 'the first test started the hub');
    const mark = auditMark(env.AUDIT_LOG);
    await hub.stop('SIGKILL');
    hub = await startHub(env, hubSetup);
    // Every agent holds a long-poll on the new hub again.
    await waitFor(
      'the three agents reconnected',
      async () => {
        const metrics = await (await fetch(`${hub?.url}/metrics`)).text();
        return Number(/^doris_hub_open_long_polls(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0) >= agents.length;
      },
      { timeoutMs: 120_000 },
    );
    const rewritten = agents.flatMap((a) =>
      writesBy(readAuditSince(env.AUDIT_LOG, mark), serviceAccountUser(a.namespace)).filter((e) => e.objectRef?.namespace === a.appNs),
    );
    assert.deepEqual(rewritten, [], 'no agent wrote to its applied objects');
  });

  it('a device whose Device was deleted is refused, and its Pipeline says so', async () => {
    const revoked = agents[2]!;
    await api.request('DELETE', `/apis/hub.doris.dev/v1alpha1/namespaces/${hubSetup.namespace}/devices/${revoked.device}`);
    await waitFor(
      'the revoked agent reports the refusal in its Pipeline',
      async () => {
        const res = await api.request<{ status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(
          'GET',
          `/apis/doris.dev/v1alpha1/namespaces/${revoked.namespace}/pipelines/main`,
        );
        const ready = res.body.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'False' && ready.reason === 'CredentialsFailed' && /401/.test(ready.message);
      },
      { timeoutMs: 120_000 },
    );
    assert.equal((await liveState(api, revoked)).value, 'v2', 'what the device runs stays');
  });
});
