import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/render/types.js';
import { explainPods, podReasons, selectorQuery } from '../../../src/health/pods.js';

const pod = (yaml: string) => parse(yaml) as KubeObject;

const unschedulable = pod(`
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: apps}
status:
  phase: Pending
  conditions:
    - type: PodScheduled
      status: "False"
      reason: Unschedulable
      message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
`);
const pullBackOff = pod(`
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: apps}
status:
  phase: Pending
  containerStatuses:
    - name: app
      state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "ghcr.io/acme/web:nope"'}}
`);
const crashLoop = (name: string) =>
  pod(`
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: apps}
status:
  phase: Running
  containerStatuses:
    - name: app
      restartCount: 4
      state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s restarting failed container}}
`);
const ready = pod(`
apiVersion: v1
kind: Pod
metadata: {name: web-ok, namespace: apps}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
`);

describe('Pod-level reasons for a workload that is not ready', () => {
  it('quotes the scheduler for a Pending Pod', () => {
    assert.deepEqual(explainPods([unschedulable, ready]), [
      "Pod web-1: is unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    ]);
  });

  it('names ImagePullBackOff and CrashLoopBackOff with the container', () => {
    const [pull, crash] = explainPods([pullBackOff, crashLoop('web-3')]);
    assert.match(pull ?? '', /^Pod web-2: cannot run: container "app" is waiting: ImagePullBackOff: Back-off pulling image/);
    assert.match(crash ?? '', /^Pod web-3: cannot run: container "app" is waiting: CrashLoopBackOff/);
  });

  it('groups Pods that say the same, and keeps the first three distinct reasons', () => {
    const many = [crashLoop('a'), crashLoop('b'), crashLoop('c')];
    assert.match(explainPods(many)[0] ?? '', /^3 Pods \(a, \.\.\.\): cannot run/);
    const distinct = ['p', 'q', 'r', 's'].map((n, i) =>
      pod(
        `{apiVersion: v1, kind: Pod, metadata: {name: ${n}}, status: {phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: "m${i}"}]}}`,
      ),
    );
    assert.equal(explainPods(distinct).length, 3);
  });

  it('says nothing about ready Pods or Pods being deleted', () => {
    const leaving = { ...unschedulable, metadata: { ...unschedulable.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } } as KubeObject;
    assert.deepEqual(explainPods([ready, leaving]), []);
  });
});

describe('selectorQuery', () => {
  it('writes matchLabels and matchExpressions in the query syntax', () => {
    assert.equal(
      selectorQuery({
        matchLabels: { app: 'web', tier: 'front' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['a', 'b'] },
          { key: 'old', operator: 'DoesNotExist' },
          { key: 'x', operator: 'Exists' },
          { key: 'y', operator: 'NotIn', values: ['z'] },
        ],
      }),
      'app=web,tier=front,env in (a,b),!old,x,y notin (z)',
    );
  });
  it('gives nothing for an empty or unknown selector rather than listing every Pod', () => {
    assert.equal(selectorQuery({}), undefined);
    assert.equal(selectorQuery(undefined), undefined);
    assert.equal(selectorQuery({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }), undefined);
  });
});

describe('podReasons', () => {
  const deployment = pod('{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: apps}, spec: {selector: {matchLabels: {app: web}}}}');
  it("lists the workload's Pods by its selector in its namespace", async () => {
    const asked: unknown[] = [];
    const client = {
      list: async (...args: unknown[]) => {
        asked.push(args);
        return [unschedulable];
      },
    } as unknown as KubeClient;
    assert.match((await podReasons(client, deployment)) ?? '', /didn't match Pod's node affinity/);
    assert.deepEqual(asked, [['v1', 'Pod', { namespace: 'apps', labelSelector: 'app=web' }]]);
  });
  it('says so when no Pod exists yet (a quota, an admission webhook)', async () => {
    const client = { list: async () => [] } as unknown as KubeClient;
    assert.equal(await podReasons(client, deployment), 'no Pods exist yet');
  });
  it('keeps quiet when Pods may not be read, and for kinds without Pods', async () => {
    const forbidden = {
      list: async () => {
        throw new Error('403');
      },
    } as unknown as KubeClient;
    assert.equal(await podReasons(forbidden, deployment), undefined);
    assert.equal(await podReasons(forbidden, pod('{apiVersion: v1, kind: Service, metadata: {name: s, namespace: a}}')), undefined);
  });
});
