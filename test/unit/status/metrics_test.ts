import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline } from '../../../src/api/pipeline.js';
import { Metrics } from '../../../src/metrics.js';

const pipeline = (name: string, status: Pipeline['status'], spec: Record<string, unknown> = { git: { url: 'https://g/x.git' } }): Pipeline => ({
  apiVersion: 'doris.dev/v1alpha1',
  kind: 'Pipeline',
  metadata: { name, namespace: 'doris-system', generation: 1 },
  spec,
  status,
});

const ready = (status: 'True' | 'False' | 'Unknown') => ({ type: 'Ready' as const, status, reason: 'Succeeded' as const, message: '', lastTransitionTime: '' });

async function scrape(metrics: Metrics): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('doris_pipeline') || l.startsWith('doris_image'));
}

describe('Pipeline state metrics', () => {
  it('report each condition of each watched Pipeline as 1 for its status and 0 for the others', async () => {
    const metrics = new Metrics();
    metrics.observePipelines(() => [pipeline('main', { conditions: [ready('Unknown')] })]);
    const lines = await scrape(metrics);
    assert.ok(lines.includes('doris_pipeline_condition{name="main",namespace="doris-system",type="Ready",status="Unknown"} 1'), lines.join('\n'));
    assert.ok(lines.includes('doris_pipeline_condition{name="main",namespace="doris-system",type="Ready",status="True"} 0'));
    // An absent Stalled is False (kstatus), so `status="True"` alerts see 0, not nothing.
    assert.ok(lines.includes('doris_pipeline_condition{name="main",namespace="doris-system",type="Stalled",status="False"} 1'));
  });

  it('give the applied and attempted commit, suspended and source as an info metric', async () => {
    const metrics = new Metrics();
    metrics.observePipelines(() => [pipeline('edge', { lastAppliedCommit: 'abc', lastAttemptedCommit: 'def' }, { git: { url: 'u' }, suspend: true })]);
    assert.ok(
      (await scrape(metrics)).includes(
        'doris_pipeline_info{name="edge",namespace="doris-system",applied_commit="abc",attempted_commit="def",suspended="true",source="git"} 1',
      ),
    );
  });

  it('give each tracked image with its digest, and whether its resolution fails', async () => {
    const metrics = new Metrics();
    const images = [
      { rule: 'r', repository: 'ghcr.io/acme/a', tag: 'main', digest: 'sha256:aa' },
      { rule: 'r', repository: 'ghcr.io/acme/b', tag: 'main', digest: 'sha256:bb', error: 'registry said 500' },
    ];
    metrics.observePipelines(() => [pipeline('main', { images })]);
    const lines = await scrape(metrics);
    assert.ok(lines.includes('doris_image_info{name="main",namespace="doris-system",image="ghcr.io/acme/a",tag="main",digest="sha256:aa"} 1'));
    assert.ok(lines.includes('doris_image_resolve_failing{name="main",namespace="doris-system",image="ghcr.io/acme/a",tag="main"} 0'));
    assert.ok(lines.includes('doris_image_resolve_failing{name="main",namespace="doris-system",image="ghcr.io/acme/b",tag="main"} 1'));
  });

  it('take the last success from this process, else from status.lastAppliedTime', async () => {
    const metrics = new Metrics();
    metrics.observePipelines(() => [
      pipeline('a', { lastAppliedTime: '2026-01-01T00:00:00.000Z' }),
      pipeline('b', { lastAppliedTime: '2026-01-01T00:00:00.000Z' }),
    ]);
    metrics.recordSuccess('doris-system', 'b', new Date('2026-06-01T00:00:00.000Z'));
    const lines = await scrape(metrics);
    assert.ok(lines.includes(`doris_pipeline_last_success_timestamp_seconds{name="a",namespace="doris-system"} ${Date.parse('2026-01-01T00:00:00Z') / 1000}`));
    assert.ok(lines.includes(`doris_pipeline_last_success_timestamp_seconds{name="b",namespace="doris-system"} ${Date.parse('2026-06-01T00:00:00Z') / 1000}`));
  });

  it('drop the series of a Pipeline that is gone', async () => {
    const metrics = new Metrics();
    let watched = [pipeline('gone', { conditions: [ready('True')], images: [{ rule: 'r', repository: 'x', tag: 't' }] })];
    metrics.observePipelines(() => watched);
    assert.ok((await scrape(metrics)).some((l) => l.includes('name="gone"')));
    watched = [];
    assert.deepEqual(
      (await scrape(metrics)).filter((l) => l.includes('name="gone"')),
      [],
    );
  });
});
