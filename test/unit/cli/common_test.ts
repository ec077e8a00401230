/** What every command shares: one exit code per outcome, tables, version checks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkVersion } from '../../../src/cli/check.js';
import { ExitCode, NotFoundError, UnreachableError, UsageError, exitCodeOf, isNetworkError, table } from '../../../src/cli/common.js';
import { reconcileResult } from '../../../src/cli/reconcile.js';
import type { Pipeline } from '../../../src/api/pipeline.js';

const errno = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('exit codes', () => {
  it('one code per outcome, whatever the command', () => {
    assert.deepEqual(ExitCode, { ok: 0, failed: 1, usage: 2, notFound: 3, unreachable: 4 });
    assert.equal(exitCodeOf(new UsageError('x')), 2);
    assert.equal(exitCodeOf(new NotFoundError('x')), 3);
    assert.equal(exitCodeOf(new UnreachableError('x')), 4);
    assert.equal(exitCodeOf(new Error('a sync failed')), 1);
  });

  it('network errors mean the cluster cannot be reached; an API answer does not', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
      assert.equal(isNetworkError(errno(code)), true, code);
      assert.equal(exitCodeOf(errno(code)), 4, code);
    }
    for (const error of [errno('ENOENT'), new Error('GET /api: 403 forbidden'), undefined, 'text']) assert.equal(isNetworkError(error), false);
  });
});

describe('table', () => {
  it('pads every column to its widest cell and trims line ends', () => {
    assert.deepEqual(
      table([
        ['NAME', 'READY', 'REASON'],
        ['a-long-name', 'True', ''],
        ['b', 'False', 'BuildFailed'],
      ]),
      ['NAME         READY  REASON', 'a-long-name  True', 'b            False  BuildFailed'],
    );
  });
});

describe('doris check', () => {
  it('accepts Kubernetes from 1.24 on, in the spellings distributions use', () => {
    assert.equal(checkVersion('v1.31.2+k3s1').status, 'ok');
    assert.equal(checkVersion('v1.24.0').status, 'ok');
    assert.equal(checkVersion('v2.0.0').status, 'ok');
    assert.equal(checkVersion('v1.23.17-eks-1').status, 'fail');
    assert.equal(checkVersion('nonsense').status, 'warn');
  });
});

describe('doris reconcile --wait', () => {
  it('reports the Ready condition of the sync that answered the request', () => {
    const pipeline = {
      apiVersion: 'doris.dev/v1alpha1',
      kind: 'Pipeline',
      metadata: { name: 'edge', namespace: 'doris-system' },
      spec: {},
      status: {
        lastHandledReconcileAt: '2026-12-01T10:00:00.000Z',
        lastAppliedCommit: 'abc',
        conditions: [{ type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: 'timed out', lastTransitionTime: '' }],
      },
    } as unknown as Pipeline;
    const result = reconcileResult(pipeline, '2026-12-01T10:00:00.000Z');
    assert.deepEqual(
      { handled: result.handled, ready: result.ready, reason: result.reason, commit: result.commit },
      { handled: true, ready: 'False', reason: 'HealthCheckFailed', commit: 'abc' },
    );
    assert.equal(reconcileResult(pipeline, '2026-12-01T11:00:00.000Z').handled, false);
  });
});
