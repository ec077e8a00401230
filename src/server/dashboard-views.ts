/**
 * The cluster dashboard's HTML: the Pipelines list, a Pipeline's page (waves → steps →
 * objects with health and last action, images, history, conditions, Events) and the
 * "what a sync would change" page. Pure functions of the model; every value goes through
 * the escaping `html` template. Status is always a word and a symbol, never colour alone.
 */
import type { ObjectAction } from '../controller/activity.js';
import type { HealthStatus } from '../health/types.js';
import type { PipelineDiff } from '../reconcile/diff-pipeline.js';
import type { ObjectDiff } from '../reconcile/diff.js';
import type { PipelineDetail, PipelineSummary, ObjectView } from './dashboard-model.js';
import { byWave } from './dashboard-model.js';
import { glyph } from './ui/glyphs.js';
import { html, pathOf, type SafeHtml } from './ui/html.js';
import { ago, badge, shortCommit, type Tone, type ViewContext } from './ui/pieces.js';

/** Ready, not ready, suspended or unknown; and whether a sync runs now (a second badge). */
export function stateBadge(s: PipelineSummary): SafeHtml {
  return html`${readyBadge(s)}${s.syncing ? html` ${badge('info', '⟳', 'Syncing')}` : ''}`;
}

function readyBadge(s: PipelineSummary): SafeHtml {
  if (s.suspended) return badge('idle', '⏸', 'Suspended');
  if (s.ready === 'True') return badge('ok', '✔', 'Ready');
  if (s.ready === 'False') return badge('bad', '✖', 'Not ready');
  return badge('idle', '?', 'Unknown');
}

const healthBadges: Record<HealthStatus, [Tone, string]> = {
  Current: ['ok', '✔'],
  InProgress: ['warn', '◐'],
  Failed: ['bad', '✖'],
  Terminating: ['warn', '⌫'],
  NotFound: ['bad', '∅'],
  Unknown: ['idle', '?'],
};

export function healthBadge(status: HealthStatus): SafeHtml {
  const [kind, icon] = healthBadges[status] ?? ['idle', '?'];
  return badge(kind, icon, status);
}

const actionIcons: Record<ObjectAction, string> = { created: '+', configured: '✎', unchanged: '=', recreated: '↻', pruned: '−' };

function actionBadge(action: ObjectAction | undefined): SafeHtml {
  if (!action) return html`<span class="muted">${glyph.none}</span>`;
  return badge(action === 'unchanged' ? 'idle' : action === 'pruned' ? 'warn' : 'info', actionIcons[action], action);
}

function syncingLine(s: PipelineSummary, now: number): SafeHtml {
  if (s.syncing) {
    const w = s.syncing.waiting;
    return html`<p class="info" role="status"><strong>${glyph.syncing} Syncing now</strong> ${s.syncing.commit ? html`<code>${shortCommit(s.syncing.commit)}</code>` : ''} since ${ago(s.syncing.since, now)}${s.syncing.stage ? html` · ${s.syncing.stage}` : ''}${
      w ? html` · waiting for ${w.pending} of ${w.total} in ${w.label}${w.first ? html`: ${w.first.object} ${w.first.status}: ${w.first.message}` : ''}` : ''
    }</p>`;
  }
  if (s.queued) return html`<p class="info" role="status"><strong>${glyph.queued} Sync queued</strong> (${s.queued.why}) ${ago(s.queued.since, now)}</p>`;
  return html``;
}

function imagesList(s: PipelineSummary): SafeHtml {
  if (s.images.length === 0) return html`<span class="muted">none tracked</span>`;
  return html`${s.images.map((i) => html`<div><code>${i.repository}:${i.tag}</code> ${i.digest ? html`<code class="muted">${i.digest.slice(0, 19)}</code>` : html`<span class="bad">unresolved</span>`}</div>`)}`;
}

function syncForm(name: string, ctx: ViewContext, action: 'sync' | 'suspend' | 'resume', label: string, primary = false): SafeHtml {
  return html`<form method="post" action="${pathOf('pipelines', name, action)}" data-inline><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit"${primary ? html` class="primary"` : ''} id="${`${action}-${name}`}">${label}</button></form>`;
}

function actions(s: PipelineSummary, ctx: ViewContext, detailPage: boolean): SafeHtml {
  const preview = detailPage ? html`<a class="button" href="${pathOf('pipelines', s.name, 'changes')}">What would a sync change?</a>` : '';
  if (!ctx.operator) return html`<div class="actions">${preview}<span class="muted">Viewer: actions need the operator role.</span></div>`;
  return html`<div class="actions">${syncForm(s.name, ctx, 'sync', 'Sync now', true)}${
    s.suspended ? syncForm(s.name, ctx, 'resume', 'Resume') : syncForm(s.name, ctx, 'suspend', 'Suspend')
  }${preview}</div>`;
}

export function listBody(pipelines: PipelineSummary[], ctx: ViewContext): SafeHtml {
  if (pipelines.length === 0) return html`<h1>Pipelines</h1><p>No Pipelines in this namespace yet. <code>doris bootstrap</code> creates one.</p>`;
  const failing = pipelines.filter((p) => p.ready === 'False' && !p.suspended).length;
  return html`<h1>Pipelines <span class="muted">(${pipelines.length}${failing ? html`, <span class="bad">${failing} not ready</span>` : ''})</span></h1>
<div class="cards">${pipelines.map(
    (s) => html`<section class="card" aria-labelledby="${`p-${s.name}`}">
<h2><a id="${`p-${s.name}`}" href="${pathOf('pipelines', s.name)}">${s.name}</a> <span>${stateBadge(s)}</span></h2>
${syncingLine(s, ctx.now)}
<dl class="kv">
<dt>Reason</dt><dd>${s.reason || '—'}</dd>
${s.ready === 'False' && s.message ? html`<dt>Message</dt><dd class="bad">${s.message.length > 200 ? `${s.message.slice(0, 200)}…` : s.message}</dd>` : ''}
<dt>Applied</dt><dd><code>${shortCommit(s.lastAppliedCommit) || '—'}</code></dd>
${s.lastAttemptedCommit && s.lastAttemptedCommit !== s.lastAppliedCommit ? html`<dt>Attempted</dt><dd><code>${shortCommit(s.lastAttemptedCommit)}</code></dd>` : ''}
<dt>Last sync</dt><dd>${ago(s.lastSyncTime, ctx.now)}</dd>
<dt>Objects</dt><dd>${s.objects}</dd>
<dt>Images</dt><dd>${imagesList(s)}</dd>
</dl>
${actions(s, ctx, false)}
</section>`,
  )}</div>`;
}

function objectRow(o: ObjectView, now: number): SafeHtml {
  return html`<tr>
<td data-label="Kind">${o.kind}</td>
<td data-label="Name" class="mono">${o.namespace ? `${o.namespace}/` : ''}${o.name}</td>
<td data-label="Health">${healthBadge(o.health.status)}</td>
<td data-label="Message" class="msg">${o.health.message}</td>
<td data-label="Last action">${actionBadge(o.action)}${o.actionAt ? html` <span class="muted">${ago(o.actionAt, now)}</span>` : ''}${
    o.changed && o.action === 'unchanged' ? html`<div class="muted">last change: ${o.changed.action} ${ago(o.changed.at, now)}</div>` : ''
  }</td>
<td data-label="File" class="mono muted">${o.file ?? ''}</td>
</tr>`;
}

function worstOf(counts: Map<string, number>): HealthStatus {
  if (counts.has('Failed') || counts.has('NotFound')) return 'Failed';
  if (counts.has('InProgress') || counts.has('Terminating')) return 'InProgress';
  return counts.has('Unknown') ? 'Unknown' : 'Current';
}

function objectsSection(d: PipelineDetail, now: number): SafeHtml {
  if (d.objectList.length === 0) return html`<p class="muted">No objects applied yet.</p>`;
  return html`${byWave(d.objectList).map((wave) => {
    const counts = new Map<string, number>();
    for (const step of wave.steps) for (const o of step.objects) counts.set(o.health.status, (counts.get(o.health.status) ?? 0) + 1);
    return html`<section class="wave" aria-label="${`wave ${wave.name}`}"><h3>Wave ${wave.name} ${healthBadge(worstOf(counts))} <span class="muted">${[...counts].map(([k, n]) => `${n} ${k}`).join(' · ')}</span></h3>
<div class="table"><table class="objects"><thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Health</th><th scope="col">Message</th><th scope="col">Last action</th><th scope="col">File</th></tr></thead>
${wave.steps.map(
  (
    step,
  ) => html`<tbody><tr class="step"><th colspan="6" scope="rowgroup">${step.step !== undefined ? `Step ${step.step}` : 'Applied earlier (step not known to this replica)'}</th></tr>
${step.objects.map((o) => objectRow(o, now))}</tbody>`,
)}</table></div></section>`;
  })}`;
}

function duration(from: string, to: string): string {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isNaN(ms) ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function detailBody(d: PipelineDetail, ctx: ViewContext): SafeHtml {
  const bad = d.ready === 'False';
  return html`<p><a href="/">${glyph.back} Pipelines</a></p>
<h1>${d.name} ${stateBadge(d)}</h1>
${d.message ? html`<p class="banner ${bad ? 'bad' : 'ok'}" id="ready-message"><strong>${d.reason}</strong>: ${d.message}</p>` : ''}
${syncingLine(d, ctx.now)}
${
  d.lastSync
    ? html`<p class="muted" id="last-sync">Last sync ${ago(d.lastSync.finishedAt, ctx.now)}: ${d.lastSync.result}${d.lastSync.commit ? html` at <code>${shortCommit(d.lastSync.commit)}</code>` : ''}${d.lastSync.wrote ? '' : ' (nothing changed)'}</p>`
    : ''
}
${actions(d, ctx, true)}
<dl class="kv">
<dt>Repository</dt><dd class="mono">${d.git.url ?? ''} · ${d.git.branch} · ${d.git.path}/</dd>
<dt>Poll interval</dt><dd>${d.git.interval}</dd>
<dt>Applied commit</dt><dd><code>${d.lastAppliedCommit ?? '—'}</code> ${ago(d.lastAppliedTime, ctx.now)}</dd>
<dt>Attempted commit</dt><dd><code>${d.lastAttemptedCommit ?? '—'}</code></dd>
<dt>Objects</dt><dd>${d.objects}</dd>
</dl>
<h2 id="objects">Objects by wave and step</h2>
${objectsSection(d, ctx.now)}
<h2 id="images">Images</h2>
${
  d.images.length === 0
    ? html`<p class="muted">No tracked images.</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">Image</th><th scope="col">Digest</th><th scope="col">Updated</th></tr></thead><tbody>${d.images.map(
        (i) =>
          html`<tr><td class="mono">${i.repository}:${i.tag}</td><td class="mono">${i.digest ?? html`<span class="bad">${glyph.failed} unresolved</span>`}${i.error ? html`<div class="bad">${i.error}</div>` : ''}</td><td>${ago(i.updatedAt, ctx.now)}</td></tr>`,
      )}</tbody></table></div>`
}
${
  d.imageHistory.length > 0
    ? html`<h3>Digest history</h3><div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Image</th><th scope="col">From</th><th scope="col">To</th></tr></thead><tbody>${d.imageHistory.map(
        (c) =>
          html`<tr><td>${ago(c.at, ctx.now)}</td><td class="mono">${c.repository}:${c.tag}</td><td class="mono">${c.from ? c.from.slice(0, 19) : '—'}</td><td class="mono">${c.to.slice(0, 19)}</td></tr>`,
      )}</tbody></table></div>`
    : ''
}
<h2 id="history">Sync history</h2>
${
  d.history.length === 0
    ? html`<p class="muted">No recorded syncs.</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">Finished</th><th scope="col">Commit</th><th scope="col">Result</th><th scope="col">Counts</th><th scope="col">Took</th></tr></thead><tbody>${d.history.map(
        (h) =>
          html`<tr><td>${ago(h.finishedAt, ctx.now)}</td><td><code>${shortCommit(h.commit)}</code></td><td>${h.result === 'Succeeded' ? badge('ok', '✔', h.result) : badge('bad', '✖', h.result)}</td><td>${h.counts.created} created, ${h.counts.configured} configured, ${h.counts.recreated} recreated, ${h.counts.unchanged} unchanged, ${h.counts.pruned} pruned</td><td>${duration(h.startedAt, h.finishedAt)}</td></tr>`,
      )}</tbody></table></div>`
}
<h2 id="conditions">Conditions</h2>
<div class="table"><table><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead><tbody>${d.conditions.map(
    (c) =>
      html`<tr><td>${c.type}</td><td>${c.status}</td><td>${c.reason}</td><td class="msg">${c.message}</td><td>${ago(c.lastTransitionTime, ctx.now)}</td></tr>`,
  )}</tbody></table></div>
<h2 id="events">Recent Events</h2>
${
  d.events.length === 0
    ? html`<p class="muted">None recorded by this replica since it started (<code>kubectl get events</code> has all).</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead><tbody>${d.events.map(
        (e) =>
          html`<tr><td>${ago(e.at, ctx.now)}</td><td>${e.type === 'Warning' ? badge('warn', '⚠', 'Warning') : badge('idle', 'ℹ', 'Normal')}</td><td>${e.reason}</td><td class="msg">${e.message}</td></tr>`,
      )}</tbody></table></div>`
}`;
}

const diffIcons: Record<ObjectDiff['action'], [Tone, string]> = {
  create: ['info', '+'],
  update: ['info', '✎'],
  recreate: ['warn', '↻'],
  unchanged: ['idle', '='],
  delete: ['warn', '−'],
  error: ['bad', '✖'],
};

/** A field value as one line of JSON, cut short (Secret values arrive masked already). */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function fieldChanges(d: ObjectDiff): SafeHtml {
  if (d.changes.length === 0) return html``;
  return html`<ul class="fields mono">${d.changes.map((c) =>
    c.op === 'add'
      ? html`<li><span aria-hidden="true">+</span> <span class="visually-hidden">added</span>${c.path}: ${shown(c.to)}</li>`
      : c.op === 'remove'
        ? html`<li><span aria-hidden="true">${glyph.removed}</span> <span class="visually-hidden">removed</span>${c.path}: ${shown(c.from)}</li>`
        : html`<li><span aria-hidden="true">~</span> <span class="visually-hidden">changed</span>${c.path}: ${shown(c.from)} ${glyph.next} ${shown(c.to)}</li>`,
  )}</ul>`;
}

export function changesBody(name: string, diff: PipelineDiff | undefined, error: string | undefined): SafeHtml {
  const head = html`<p><a href="${pathOf('pipelines', name)}">${glyph.back} ${name}</a></p><h1>What a sync of ${name} would change now</h1>`;
  if (error) return html`${head}<p class="banner bad" role="alert">${error}</p>`;
  if (!diff) return head;
  const changing = diff.diffs.filter((d) => d.action !== 'unchanged');
  const unchanged = diff.diffs.length - changing.length;
  return html`${head}<p>Branch head <code>${diff.commit}</code>: ${changing.length === 0 ? 'nothing would change' : `${changing.length} object(s) would change`}, ${unchanged} unchanged. Decided with server-side dry-runs against the live objects; nothing was written.</p>
${diff.pruneRefusal ? html`<p class="banner bad">${diff.pruneRefusal}</p>` : ''}
${diff.problems.map((p) => html`<p class="banner warn">${p.file}${p.line ? `:${p.line}:${p.col ?? 1}` : ''}: ${p.severity}: ${p.message}</p>`)}
${
  changing.length === 0
    ? ''
    : html`<div class="table"><table><thead><tr><th scope="col">Action</th><th scope="col">Object</th><th scope="col">Changes</th><th scope="col">Stage</th><th scope="col">Source</th></tr></thead><tbody>${changing.map(
        (d) => {
          const [kind, icon] = diffIcons[d.action];
          return html`<tr><td>${badge(kind, icon, d.action)}</td><td class="mono">${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name}</td><td class="msg">${d.note ? html`<div>${d.note}</div>` : ''}${fieldChanges(d)}</td><td>${d.stage ?? ''}</td><td class="mono muted">${d.source ?? ''}</td></tr>`;
        },
      )}</tbody></table></div>`
}`;
}
