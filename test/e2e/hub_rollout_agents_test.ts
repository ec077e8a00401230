/**
 * Staged rollouts with five real agents (a canary and four more), the hub as its own
 * ServiceAccount, each agent a `doris run` as its shipped ServiceAccount (test/env/hub.ts).
 *
 * - A good commit reaches the canary first and the others only after the canary is Ready and
 *   its soak has passed: the agents' applied times and the hub's Events say so.
 * - A commit whose Deployment never becomes ready (its pods ask for a node that does not
 *   exist) halts at the canary: the other four keep running the previous commit's objects
 *   (read from their live objects), and with `autoRollback` the canary gets them back.
 * - The same for a bad image pushed under the same tag with no commit at all. kwok runs no
 *   images, so the bad image is made real the way a broken image shows itself to the cluster:
 *   its pods never run (the canary's namespace gets a pod quota the new ReplicaSet's pod
 *   exceeds); nothing in DORIS or the hub knows about it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
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
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const fleet = 'solar';
const soakSeconds = 10;
const imageName = `hub-rollout-${run}/app`;
let image: string;
let repoUrl: string;
let hubSetup: HubSetup;
let hub: RunningController | undefined;
let canary: Agent;
let rest: Agent[] = [];
let goodDigest: string;
/** The last commit every agent ran (the last good one). */
let goodCommit: string;

const all = () => [canary, ...rest];
const noNode = '      nodeSelector: {doris.test/no-such-node: "true"}';

interface AgentStatus {
  lastAppliedCommit?: string;
  lastAppliedTime?: string;
  conditions?: Array<{ type: string; status: string; reason: string }>;
}

async function agentStatus(agent: Agent): Promise<AgentStatus> {
  return (await api.request<{ status?: AgentStatus }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${agent.namespace}/pipelines/main`)).body.status ?? {};
}

async function report(agent: Agent) {
  return (await devices(api, hubSetup)).find((d) => d.metadata.name === agent.device)?.status?.report;
}

/** Waits until `agent` runs `commit` (Ready, as its Device reports) with `value` live. */
async function runs(agent: Agent, commit: string, value: string, digest = goodDigest): Promise<void> {
  await waitFor(
    `${agent.name} runs ${commit.slice(0, 8)}`,
    async () => {
      const r = await report(agent);
      const live = await liveState(api, agent);
      return r?.commit === commit && r.ready === 'True' && live.value === value && live.image === `${image}:main@${digest}`;
    },
    { timeoutMs: 180_000 },
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}; report ${JSON.stringify(await report(agent))}; live ${JSON.stringify(await liveState(api, agent))}; rollout ${JSON.stringify(await rollout())}`,
    );
  });
}

async function rollout(): Promise<{ state?: string; stage?: string; revision?: string; lastGood?: string } | undefined> {
  const res = await api.request<{ status?: { rollout?: { state?: string; stage?: string; revision?: string; lastGood?: string } } }>(
    'GET',
    `/apis/hub.doris.dev/v1alpha1/namespaces/${hubSetup.namespace}/fleets/${fleet}`,
  );
  return res.body.status?.rollout;
}

async function fleetEvents(): Promise<Array<{ reason: string; message: string; at: number }>> {
  const res = await api.request<{
    items: Array<{
      reason: string;
      message: string;
      involvedObject: { kind: string; name: string };
      lastTimestamp?: string;
      eventTime?: string;
      firstTimestamp?: string;
    }>;
  }>('GET', `/api/v1/namespaces/${hubSetup.namespace}/events`);
  return res.body.items
    .filter((e) => e.involvedObject.kind === 'Fleet' && e.involvedObject.name === fleet)
    .map((e) => ({ reason: e.reason, message: e.message, at: Date.parse(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? '') }));
}

/** The others keep what they ran: checked on their live objects, for as long as the canary takes. */
async function othersKeep(value: string, digest = goodDigest): Promise<void> {
  for (const agent of rest) {
    const live = await liveState(api, agent);
    assert.equal(live.value, value, `${agent.name} keeps the previous commit's ConfigMap`);
    assert.equal(live.image, `${image}:main@${digest}`, `${agent.name} keeps the previous image`);
    assert.equal((await agentStatus(agent)).lastAppliedCommit, goodCommit, `${agent.name} applied nothing newer`);
  }
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  image = `${env.REGISTRY}/${imageName}`;
  goodDigest = await pushTestImage(env, imageName, 'main', `rollout-v1-${run}`);
  ({ url: repoUrl, commit: goodCommit } = await createRepo(env, 'hub-rollout', appFiles(image, 'v1')));
  hubSetup = await setupHub(env, api, `hub-rollout-${run}`);
  canary = agentFor(env, 'canary', run, 'ring=canary');
  rest = [1, 2, 3, 4].map((i) => agentFor(env, `r${i}`, run, 'ring=rest'));
});

after(async () => {
  for (const agent of all()) await removeAgent(api, agent);
  await removeHub(api, hubSetup, hub);
  api.close();
});

describe('staged rollouts with five real agents', () => {
  it('a good commit reaches the canary first and the rest only after the canary is Ready and has soaked', async () => {
    hub = await startHub(env, hubSetup);
    await createFleet(api, hubSetup, fleet, repoUrl, image, {
      autoRollback: true,
      stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1, soak: `${soakSeconds}s` }],
    });
    const tokenFile = await enrollmentTokenFile(env, hubSetup, fleet, 5);
    try {
      // A short health wait: a Deployment that never becomes ready fails the canary's sync quickly.
      for (const agent of all()) await startAgent(env, api, agent, hub.url, fleet, tokenFile, { wait: { timeout: '15s' } });
    } finally {
      rmSync(tokenFile, { force: true });
    }
    // The first revision of a Fleet has nothing older to protect: every device gets it.
    for (const agent of all()) await runs(agent, goodCommit, 'v1');

    const second = await pushFiles(env, repoUrl, appFiles(image, 'v2'), 'v2');
    await runs(canary, second, 'v2');
    await othersKeep('v1');
    for (const agent of rest) await runs(agent, second, 'v2');

    const canaryApplied = Date.parse((await agentStatus(canary)).lastAppliedTime ?? '');
    const restApplied = await Promise.all(rest.map(async (a) => Date.parse((await agentStatus(a)).lastAppliedTime ?? '')));
    assert.ok(
      Math.min(...restApplied) >= canaryApplied + soakSeconds * 1000,
      `the rest applied ${((Math.min(...restApplied) - canaryApplied) / 1000).toFixed(1)} s after the canary (soak ${soakSeconds} s)`,
    );
    const events = await fleetEvents();
    const completed = events.find((e) => e.reason === 'StageCompleted' && e.message.includes('canary'));
    assert.ok(completed, `a StageCompleted Event for the canary: ${JSON.stringify(events)}`);
    // Event times have second precision.
    assert.ok(completed.at >= canaryApplied + soakSeconds * 1000 - 1000, 'the canary stage completed only after its soak');
    assert.ok(Math.min(...restApplied) >= completed.at - 1000, 'the rest applied after the canary stage completed');
    goodCommit = second;
  });

  it('a commit whose Deployment never becomes ready halts at the canary; the rest keep the previous objects; the canary rolls back', async () => {
    const bad = await pushFiles(env, repoUrl, appFiles(image, 'v3', noNode), 'v3: pods that need a node that does not exist');
    await waitFor(
      'the canary reports the failed commit',
      async () => {
        const r = await report(canary);
        return r?.commit === bad && r.ready === 'False';
      },
      { timeoutMs: 180_000 },
    );
    await waitFor('the rollout halts', async () => (await rollout())?.state === 'Halted', { timeoutMs: 60_000 });
    await othersKeep('v2');
    // autoRollback: the canary gets the last good revision back.
    await runs(canary, goodCommit, 'v2');
    await othersKeep('v2');
    const reasons = (await fleetEvents()).map((e) => e.reason);
    assert.ok(reasons.includes('RolloutHalted') && reasons.includes('RolledBack'), reasons.join(','));

    // A fixed commit rolls out again, stage by stage, and becomes the last good one.
    const fixed = await pushFiles(env, repoUrl, appFiles(image, 'v4'), 'v4: fixed');
    for (const agent of all()) await runs(agent, fixed, 'v4');
    goodCommit = fixed;
  });

  it('a bad image pushed under the same tag, with no commit, halts at the canary the same way', async () => {
    await api.request('POST', `/api/v1/namespaces/${canary.appNs}/resourcequotas`, {
      body: { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-new-pods' }, spec: { hard: { pods: '1' } } },
    });
    const badDigest = await pushTestImage(env, imageName, 'main', `rollout-bad-${run}`);
    assert.notEqual(badDigest, goodDigest);
    await waitFor(
      'the canary reports the failed digest',
      async () => {
        const r = await report(canary);
        return r?.commit === goodCommit && r.ready === 'False';
      },
      { timeoutMs: 180_000 },
    );
    await waitFor('the rollout halts', async () => (await rollout())?.state === 'Halted', { timeoutMs: 60_000 });
    await othersKeep('v4');
    await runs(canary, goodCommit, 'v4');
    await othersKeep('v4');
  });
});
