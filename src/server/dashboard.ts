/**
 * The read-only status view: the JSON shape of `/api/pipelines` and the HTML dashboard
 * built from it. Every value is escaped; nothing here can change a Pipeline.
 */
import type { Pipeline } from '../api/pipeline.js';
import { inventorySize } from '../inventory/archive.js';

export interface PipelineSummary {
  name: string;
  namespace: string;
  ready: string;
  reason: string;
  message: string;
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  lastAppliedTime?: string;
  objects: number;
  history: NonNullable<Pipeline['status']>['history'];
}

export function summarize(p: Pipeline): PipelineSummary {
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: p.metadata.name,
    namespace: p.metadata.namespace,
    ready: ready?.status ?? 'Unknown',
    reason: ready?.reason ?? '',
    message: ready?.message ?? '',
    lastAppliedCommit: p.status?.lastAppliedCommit,
    lastAttemptedCommit: p.status?.lastAttemptedCommit,
    lastAppliedTime: p.status?.lastAppliedTime,
    objects: inventorySize(p.status),
    history: (p.status?.history ?? []).slice(0, 10),
  };
}

const escapeHtml = (value: unknown) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderDashboard(pipelines: Pipeline[]): string {
  const rows = pipelines
    .map(summarize)
    .map(
      (s) =>
        `<tr class="${s.ready === 'True' ? 'ok' : 'bad'}"><td>${escapeHtml(s.name)}</td><td>${escapeHtml(s.ready)}</td><td>${escapeHtml(s.reason)}</td>` +
        `<td><code>${escapeHtml(s.lastAppliedCommit?.slice(0, 12))}</code></td><td>${s.objects}</td><td>${escapeHtml(s.lastAppliedTime)}</td><td>${escapeHtml(s.message)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>DORIS</title>
<meta http-equiv="refresh" content="10">
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
tr.ok td:nth-child(2){color:#080}tr.bad td:nth-child(2){color:#b00}</style></head>
<body><h1>DORIS pipelines</h1><table><tr><th>Pipeline</th><th>Ready</th><th>Reason</th><th>Commit</th><th>Objects</th><th>Applied</th><th>Message</th></tr>
${rows}
</table><p>JSON: <a href="/api/pipelines">/api/pipelines</a> · <a href="/metrics">/metrics</a></p></body></html>
`;
}
