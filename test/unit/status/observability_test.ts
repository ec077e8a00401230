/**
 * What config/ ships for monitoring, checked against the code it watches: the alert rules
 * with the real `promtool` (syntax, then unit tests that each alert fires when it should and
 * not otherwise), the Grafana dashboard and the rules naming only metrics the controller
 * exports, the Pod/ServiceMonitor selecting the installed controller, and docs/metrics.md
 * naming every metric.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { installObjects } from '../../../src/install/manifests.js';
import { Metrics } from '../../../src/metrics.js';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'doris-promtool-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; expr: string; annotations?: Record<string, string> }>;
}
const prometheusRule = parse(read('config/prometheus-rules.yaml')) as { kind: string; spec: { groups: RuleGroup[] } };
const rulesFile = join(work, 'rules.yaml');

let promtool: string;
before(async () => {
  try {
    promtool = (await run('sh', ['-c', 'command -v promtool'])).stdout.trim();
  } catch {
    assert.fail("promtool is not installed: install Debian's prometheus package (npm run testenv -- up installs it when run as root)");
  }
  // promtool reads plain rule files: the PrometheusRule's spec is one.
  writeFileSync(rulesFile, stringify({ groups: prometheusRule.spec.groups }));
});

/** Metric names the controller exports (histograms also as _bucket, _sum and _count). */
function exported(): Set<string> {
  const names = new Set<string>();
  for (const metric of new Metrics().registry.getMetricsAsArray()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

const metricNames = (expr: string) => [...expr.matchAll(/\bdoris_[a-z_]+\b/g)].map((m) => m[0]);

/** The alert's annotations as they should read for these labels (every `{{ $labels.x }}` must be one of them). */
function annotations(alert: string, labels: Record<string, string>): Record<string, string> {
  const rule = prometheusRule.spec.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
  assert.ok(rule, alert);
  return Object.fromEntries(
    Object.entries(rule.annotations ?? {}).map(([key, text]) => [
      key,
      text.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, label: string) => {
        assert.ok(label in labels, `${alert} ${key} names label ${label}, which the alert does not have`);
        return labels[label] as string;
      }),
    ]),
  );
}

/** One alert's unit test in promtool's format: series (one sample a minute) and the alerts expected at a time. */
function alertTest(series: Array<[string, string]>, checks: Array<{ at: string; alert: string; fire: Array<Record<string, string>> }>) {
  return {
    interval: '1m',
    input_series: series.map(([s, values]) => ({ series: s, values })),
    alert_rule_test: checks.map(({ at, alert, fire }) => ({
      eval_time: at,
      alertname: alert,
      exp_alerts: fire.map((exp_labels) => ({ exp_labels, exp_annotations: annotations(alert, exp_labels) })),
    })),
  };
}

async function promtoolTest(test: ReturnType<typeof alertTest>): Promise<void> {
  const file = join(work, `test-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests: [test] }));
  try {
    await run(promtool, ['test', 'rules', file]);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    assert.fail(`promtool test rules failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('config/prometheus-rules.yaml', () => {
  it('is a PrometheusRule that promtool check rules accepts', async () => {
    assert.equal(prometheusRule.kind, 'PrometheusRule');
    const { stdout } = await run(promtool, ['check', 'rules', rulesFile]);
    assert.match(stdout, /SUCCESS: 5 rules found/);
  });

  it('uses only metrics the controller exports', () => {
    const names = exported();
    for (const rule of prometheusRule.spec.groups.flatMap((g) => g.rules)) {
      for (const metric of metricNames(rule.expr)) assert.ok(names.has(metric), `${rule.alert}: ${metric} is not exported`);
    }
  });

  it('DorisPipelineNotReady fires after 15 minutes not Ready, not for a suspended Pipeline nor a Ready one', async () => {
    const ready = (name: string) => `doris_pipeline_condition{namespace="doris-system",name="${name}",type="Ready",status="True"}`;
    const info = (name: string, suspended: string) => `doris_pipeline_info{namespace="doris-system",name="${name}",suspended="${suspended}"}`;
    await promtoolTest(
      alertTest(
        [
          [ready('broken'), '0x40'],
          [info('broken', 'false'), '1x40'],
          [ready('paused'), '0x40'],
          [info('paused', 'true'), '1x40'],
          [ready('fine'), '1x40'],
          [info('fine', 'false'), '1x40'],
        ],
        [
          { at: '10m', alert: 'DorisPipelineNotReady', fire: [] },
          { at: '20m', alert: 'DorisPipelineNotReady', fire: [{ severity: 'warning', namespace: 'doris-system', name: 'broken' }] },
        ],
      ),
    );
  });

  it('DorisSyncFailing fires when every sync of 15 minutes failed, not when some succeeded', async () => {
    const syncs = (pipeline: string, result: string) => `doris_syncs_total{namespace="doris-system",pipeline="${pipeline}",result="${result}"}`;
    await promtoolTest(
      alertTest(
        [
          [syncs('broken', 'HealthCheckFailed'), '0+1x40'],
          [syncs('broken', 'Succeeded'), '5x40'],
          [syncs('flaky', 'ApplyFailed'), '0+1x40'],
          [syncs('flaky', 'Succeeded'), '0+1x40'],
        ],
        [
          { at: '2m', alert: 'DorisSyncFailing', fire: [] },
          { at: '10m', alert: 'DorisSyncFailing', fire: [{ severity: 'warning', namespace: 'doris-system', pipeline: 'broken' }] },
        ],
      ),
    );
  });

  it('DorisImagePollFailing fires when every image poll of 15 minutes failed', async () => {
    const polls = (pipeline: string, result: string) =>
      `doris_source_polls_total{namespace="doris-system",pipeline="${pipeline}",source="image",result="${result}"}`;
    await promtoolTest(
      alertTest(
        [
          [polls('offline', 'error'), '0+2x40'],
          [polls('online', 'error'), '0+1x40'],
          [polls('online', 'unchanged'), '0+1x40'],
        ],
        [{ at: '10m', alert: 'DorisImagePollFailing', fire: [{ severity: 'warning', namespace: 'doris-system', pipeline: 'offline' }] }],
      ),
    );
  });

  it('DorisPipelineStalled and DorisImageUnresolved fire from the state metrics, once per Pipeline across replicas', async () => {
    const stalled = (pod: string) => `doris_pipeline_condition{namespace="doris-system",name="main",type="Stalled",status="True",pod="${pod}"}`;
    const failing = (pod: string) => `doris_image_resolve_failing{namespace="doris-system",name="main",image="ghcr.io/acme/a",tag="main",pod="${pod}"}`;
    await promtoolTest(
      alertTest(
        [
          [stalled('doris-a'), '1x40'],
          [stalled('doris-b'), '1x40'],
          [failing('doris-a'), '1x40'],
          [failing('doris-b'), '1x40'],
        ],
        [
          { at: '10m', alert: 'DorisPipelineStalled', fire: [{ severity: 'warning', namespace: 'doris-system', name: 'main' }] },
          { at: '10m', alert: 'DorisImageUnresolved', fire: [] },
          {
            at: '20m',
            alert: 'DorisImageUnresolved',
            fire: [{ severity: 'warning', namespace: 'doris-system', name: 'main', image: 'ghcr.io/acme/a', tag: 'main' }],
          },
        ],
      ),
    );
  });
});

describe('config/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(read('config/grafana-dashboard.json')) as {
    uid: string;
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  it('queries only metrics the controller exports', () => {
    const names = exported();
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr])),
      ...dashboard.templating.list.map((v) => ['variable', v.definition ?? '']),
    ];
    assert.ok(exprs.length > 10);
    for (const [title, expr] of exprs) for (const metric of metricNames(expr ?? '')) assert.ok(names.has(metric), `${title}: ${metric} is not exported`);
  });
  it('shows readiness, commits, sync results and durations, and image digests', () => {
    const all = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const metric of ['doris_pipeline_condition', 'doris_pipeline_info', 'doris_sync_duration_seconds_bucket', 'doris_syncs_total', 'doris_image_info']) {
      assert.ok(all.includes(metric), metric);
    }
  });
});

describe('config/podmonitor.yaml and config/servicemonitor.yaml', () => {
  const install = installObjects();
  const deployment = install.find((o) => o.kind === 'Deployment') as unknown as {
    spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ ports: Array<{ name: string }> }> } } };
  };
  const service = install.find((o) => o.kind === 'Service') as unknown as {
    metadata: { labels: Record<string, string> };
    spec: { ports: Array<{ name: string }> };
  };
  const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

  it('the PodMonitor selects the controller Pods and their metrics port', () => {
    const monitor = parse(read('config/podmonitor.yaml')) as {
      kind: string;
      spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string; path: string }> };
    };
    assert.equal(monitor.kind, 'PodMonitor');
    assert.ok(selects(monitor.spec.selector.matchLabels, deployment.spec.template.metadata.labels));
    assert.ok(deployment.spec.template.spec.containers[0]?.ports.some((p) => p.name === monitor.spec.podMetricsEndpoints[0]?.port));
    assert.equal(monitor.spec.podMetricsEndpoints[0]?.path, '/metrics');
  });

  it('the ServiceMonitor selects the controller Service and its port', () => {
    const monitor = parse(read('config/servicemonitor.yaml')) as {
      kind: string;
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
    };
    assert.equal(monitor.kind, 'ServiceMonitor');
    assert.ok(selects(monitor.spec.selector.matchLabels, service.metadata.labels));
    assert.ok(service.spec.ports.some((p) => p.name === monitor.spec.endpoints[0]?.port));
  });
});

describe('docs/metrics.md', () => {
  it('names every metric the controller defines, with its labels', () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: 'doris_' });
    const standard = new Set(defaults.getMetricsAsArray().map((m) => m.name));
    const doc = read('docs/metrics.md');
    for (const metric of new Metrics().registry.getMetricsAsArray()) {
      if (standard.has(metric.name)) continue;
      assert.ok(doc.includes(`\`${metric.name}\``), `docs/metrics.md does not name ${metric.name}`);
      for (const label of (metric as unknown as { labelNames: string[] }).labelNames) assert.ok(doc.includes(`\`${label}\``), `${metric.name}: label ${label}`);
    }
  });
});
