/**
 * The drift rotation (issue 15, docs/adr/0004-no-op-detection.md, items 7 and 8), as the shipped
 * ServiceAccount, with three Secrets it may write but not read: bounded per sync (`doris run
 * --drift-checks-per-sync 1`) or spread over a period (`--drift-check-period 90m` at a 30 m
 * interval: a third per sync), a resync checks one of them, the least recently checked first,
 * and a hand edit of any of them is reverted within three resyncs. Judged by the API server's
 * audit log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince } from '../env/audit.js';
import { type RunningController, startController } from '../env/doris.js';
import { bootstrapInstall, removeInstall, serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { reconcileHandled, requestReconcile } from '../env/reconcile.js';
import { createRepo, kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

const names = ['secret-a', 'secret-b', 'secret-c'];
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;

/** One controller with `flags` (resyncs come from the test only: the interval is longer than the test). */
function rotationSuite(id: string, flags: string[]): void {
  let env: TestEnv;
  let api: KubeHttp;
  let controller: RunningController | undefined;
  const ctl = `doris-dr${id}-${run}`;
  const appNs = `e2e-dr${id}-${run}`;
  const dorisUser = serviceAccountUser(ctl);
  let kubeconfig: string;

  const secretYaml = (name: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: ${appNs}\nstringData:\n  password: from-git\n`;

  async function password(name: string): Promise<string | undefined> {
    const res = await api.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${appNs}/secrets/${name}`, { accept: [404] });
    const value = res.status === 200 ? res.body.data?.password : undefined;
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  }

  const pipelinePath = () => `/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/app`;

  /** Asks for a resync and waits until the controller has handled it. */
  async function resync(): Promise<void> {
    await requestReconcile(api, ctl, 'app');
    await reconcileHandled(api, ctl, 'app');
  }

  /** The Secrets DORIS sent a dry-run for since `mark`. */
  function dryRunSecrets(mark: ReturnType<typeof auditMark>): string[] {
    return readAuditSince(env.AUDIT_LOG, mark)
      .filter((e) => e.user.username === dorisUser && e.objectRef?.resource === 'secrets' && /[?&]dryRun=/.test(e.requestURI))
      .map((e) => e.objectRef?.name ?? '');
  }

  describe(`doris run ${flags.join(' ')} --poll-interval 30m under the shipped ServiceAccount, three unreadable Secrets`, () => {
    before(async () => {
      env = loadTestEnv();
      api = await kube(env);
      const files: Record<string, string> = { 'deploy/1-base/10-ns.yml': namespaceYaml(appNs) };
      for (const name of names) files[`deploy/2-app/10-${name}.yml`] = secretYaml(name);
      const { url } = await createRepo(env, `drift-rotation-${id}`, files);
      await bootstrapInstall(env, ctl, url, 'app');
      kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
      controller = startController(env, ['--namespace', ctl, '--poll-interval', '30m', ...flags], { kubeconfig, port: await freePort() });
      await waitFor(
        'the first sync',
        async () => {
          const res = await api.request<{ status?: { lastAppliedCommit?: string } }>('GET', pipelinePath());
          return res.body.status?.lastAppliedCommit !== undefined && (await Promise.all(names.map(password))).every((p) => p === 'from-git');
        },
        { timeoutMs: 120_000 },
      );
    });

    after(async () => {
      await controller?.stop();
      await removeInstall(api, ctl, kubeconfig, [appNs]);
      api.close();
    });

    it('checks one Secret per resync, each in turn', async () => {
      const checked: string[][] = [];
      for (let i = 0; i < 3; i += 1) {
        const mark = auditMark(env.AUDIT_LOG);
        await resync();
        checked.push(dryRunSecrets(mark));
      }
      for (const [i, names] of checked.entries()) assert.equal(names.length, 1, `resync ${i + 1} checked ${names.join(', ') || 'nothing'}`);
      assert.deepEqual(checked.flat().sort(), names);
    });

    it('reverts a hand edit of any of them within three resyncs', async () => {
      const edited = 'secret-b';
      await api.request('PATCH', `/api/v1/namespaces/${appNs}/secrets/${edited}`, {
        body: { data: { password: Buffer.from('tampered').toString('base64') } },
        contentType: 'application/merge-patch+json',
      });
      const mark = auditMark(env.AUDIT_LOG);
      let resyncs = 0;
      while ((await password(edited)) !== 'from-git' && resyncs < 3) {
        await resync();
        resyncs += 1;
      }
      assert.equal(await password(edited), 'from-git', 'the hand edit was not reverted in three resyncs');
      const written = readAuditSince(env.AUDIT_LOG, mark).filter(
        (e) => e.user.username === dorisUser && e.objectRef?.resource === 'secrets' && e.verb === 'patch' && !/[?&]dryRun=/.test(e.requestURI),
      );
      assert.deepEqual(
        written.map((e) => e.objectRef?.name),
        [edited],
      );
    });
  });
}

rotationSuite('b', ['--drift-checks-per-sync', '1']);
rotationSuite('p', ['--drift-check-period', '90m']);
