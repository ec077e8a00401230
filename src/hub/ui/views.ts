/**
 * The fleet view's HTML: the Fleets, a Fleet (revisions by stage with progress, the rollout,
 * recent Events, a filtered and paged device list) and a device's last report. Pure functions
 * of the model (model.ts); every value goes through the escaping `html` template, which
 * matters most here: a device writes its own report (reason, message, agent version, image
 * names), so it is hostile input. Status is always a word and a symbol, never colour alone.
 */
import type { DeviceState } from '../devices.js';
import { html, pathOf, type SafeHtml } from '../../server/ui/html.js';
import { glyph } from '../../server/ui/glyphs.js';
import { ago, badge, shortCommit, type Tone, type ViewContext } from '../../server/ui/pieces.js';
import type { RolloutCommand } from '../rollout/engine.js';
import type { DeviceDetail, DevicePage, DeviceRow, FleetDetail, FleetSummary, RevisionRef, StageView } from './model.js';
import { deviceStates } from './model.js';

const stateBadges: Record<DeviceState, [Tone, string, string]> = {
  ready: ['ok', '✔', 'Ready'],
  failed: ['bad', '✖', 'Failed'],
  offline: ['idle', '○', 'Offline'],
  unknown: ['warn', '?', 'Unknown'],
};

export function deviceStateBadge(state: DeviceState): SafeHtml {
  const [tone, icon, text] = stateBadges[state];
  return badge(tone, icon, text);
}

const rolloutBadges: Record<string, [Tone, string]> = {
  Progressing: ['info', '⟳'],
  Paused: ['warn', '⏸'],
  Halted: ['bad', '■'],
  Complete: ['ok', '✔'],
};

function rolloutBadge(state: string | undefined): SafeHtml {
  if (!state) return badge('idle', '–', 'No rollout');
  const [tone, icon] = rolloutBadges[state] ?? ['idle', '?'];
  return badge(tone, icon, state);
}

function revisionText(r: RevisionRef | undefined): SafeHtml {
  if (!r) return html`<span class="muted">none yet</span>`;
  return html`<code title="${r.id}">${shortCommit(r.commit) || r.id}</code>`;
}

function counts(c: FleetSummary['devices']): SafeHtml {
  return html`<span>${c.total} device${c.total === 1 ? '' : 's'}:</span> <span class="ok">${glyph.ok} ${c.ready} ready</span> · <span class="${c.failed ? 'bad' : 'muted'}">${glyph.failed} ${c.failed} failed</span> · <span class="muted">${glyph.offline} ${c.offline} offline</span>${
    c.unknown ? html` · <span class="warn">? ${c.unknown} unknown</span>` : ''
  }`;
}

const briefIcon = {
  done: html`<span class="ok" aria-hidden="true">${glyph.ok}</span><span class="visually-hidden">done:</span>`,
  current: html`<span class="info" aria-hidden="true">${glyph.current}</span><span class="visually-hidden">current:</span>`,
  waiting: html`<span class="muted" aria-hidden="true">${glyph.waiting}</span><span class="visually-hidden">waiting:</span>`,
};

export function listBody(fleets: FleetSummary[], ctx: ViewContext): SafeHtml {
  if (fleets.length === 0) return html`<h1>Fleets</h1><p>No Fleets in this hub's namespace yet (<code>kubectl apply -f fleet.yaml</code>).</p>`;
  return html`<h1>Fleets <span class="muted">(${fleets.length})</span></h1>
<div class="cards">${fleets.map(
    (f) => html`<section class="card" aria-labelledby="${`f-${f.name}`}">
<h2><a id="${`f-${f.name}`}" href="${pathOf('fleets', f.name)}">${f.name}</a> <span>${rolloutBadge(f.rollout?.state)}</span></h2>
${f.problem ? html`<p class="banner bad"><strong>${f.problem.reason}</strong>: ${f.problem.message}</p>` : ''}
<dl class="kv">
<dt>Revision</dt><dd>${revisionText(f.revision)} ${f.revision ? ago(f.revision.createdAt, ctx.now) : ''}</dd>
${f.rollout ? html`<dt>Rolling out</dt><dd>${revisionText(f.rollout.revision)}</dd><dt>Stage</dt><dd>${f.rollout.stage ? html`${f.rollout.stage} <span class="muted">(${f.rollout.stageIndex + 1} of ${f.rollout.stages})</span>` : html`<span class="muted">all done</span>`}</dd>` : ''}
${f.rollout ? html`<dt>Stages</dt><dd><ol class="brief">${f.rollout.brief.map((b) => html`<li>${briefIcon[b.phase]} ${b.name} <span class="muted">${b.ready}/${b.online} ready</span></li>`)}</ol></dd>` : ''}
<dt>Devices</dt><dd>${counts(f.devices)}</dd>
<dt>Upstream</dt><dd class="mono">${f.git.url ?? ''} · ${f.git.branch}</dd>
<dt>Last poll</dt><dd>${ago(f.lastPolled, ctx.now)}</dd>
</dl>
${f.rollout?.message ? html`<p class="muted">${f.rollout.message}</p>` : ''}
</section>`,
  )}</div>`;
}

function progress(label: string, value: number, max: number, text: string): SafeHtml {
  const pct = max > 0 ? Math.round((100 * value) / max) : 0;
  return html`<div class="bar"><progress max="${Math.max(1, max)}" value="${value}" aria-label="${label}"></progress><span>${text} (${pct}%)</span></div>`;
}

function stageCard(s: StageView, ctx: ViewContext, index: number): SafeHtml {
  const online = s.devices - s.offline;
  const status = s.current
    ? badge('info', '▶', 'Current')
    : s.skipped
      ? s.skipped === 'promoted'
        ? badge('ok', '⏭', 'Promoted')
        : badge('idle', '↷', s.skipped === 'empty' ? 'Skipped (no devices)' : 'Skipped (all offline)')
      : s.done
        ? badge('ok', '✔', 'Done')
        : badge('idle', '…', 'Waiting');
  return html`<section class="card stage${s.current ? ' current' : ''}" aria-labelledby="${`stage-${index}`}" data-stage="${s.name}">
<h3 id="${`stage-${index}`}">${index + 1}. ${s.name} ${status}</h3>
<p class="muted mono">${s.selector}</p>
<dl class="kv"><dt>Revision</dt><dd>${revisionText(s.revision)}</dd>
${s.minReady ? html`<dt>Rule</dt><dd>minReady ${s.minReady} · maxFailures ${s.maxFailures} · soak ${s.soak}</dd>` : ''}
${s.startedAt ? html`<dt>Started</dt><dd>${ago(s.startedAt, ctx.now)}</dd>` : ''}
${s.readyAt && !s.completedAt ? html`<dt>Ready since</dt><dd>${ago(s.readyAt, ctx.now)} (soaking)</dd>` : ''}
${s.completedAt ? html`<dt>Completed</dt><dd>${ago(s.completedAt, ctx.now)}</dd>` : ''}
</dl>
${progress(`${s.name}: updated`, s.updated, online, `${s.updated} of ${online} online updated`)}
${progress(`${s.name}: ready`, s.ready, online, `${s.ready} of ${online} online ready`)}
<p class="stage-counts"><span>${s.devices} devices</span> · <span>${s.updated} updated</span> · <span class="ok">${glyph.ok} ${s.ready} ready</span> · <span class="${s.failed ? 'bad' : 'muted'}">${glyph.failed} ${s.failed} failed</span> · <span class="muted">${glyph.offline} ${s.offline} offline</span></p>
</section>`;
}

const actionLabels: Record<RolloutCommand, string> = { promote: 'Promote', pause: 'Pause', resume: 'Resume', abort: 'Abort' };

function actionForm(fleet: string, ctx: ViewContext, verb: RolloutCommand, primary = false): SafeHtml {
  return html`<form method="post" action="${pathOf('fleets', fleet, verb)}" data-inline><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit" id="${`${verb}-${fleet}`}"${primary ? html` class="primary"` : ''}>${actionLabels[verb]}</button></form>`;
}

/** Which commands make sense in a state (the leader decides anyway; the page offers these). */
export function offeredActions(state: string | undefined, aborted: boolean | undefined): RolloutCommand[] {
  switch (state) {
    case 'Progressing':
      return ['promote', 'pause', 'abort'];
    case 'Paused':
      return ['resume', 'promote', 'abort'];
    case 'Halted':
      return aborted ? ['resume'] : ['resume', 'promote', 'abort'];
    default:
      return [];
  }
}

function actions(d: FleetDetail, ctx: ViewContext): SafeHtml {
  if (!d.rolloutStatus) return html``;
  if (!ctx.operator) return html`<div class="actions"><span class="muted">Viewer: promote, pause, resume and abort need the operator role.</span></div>`;
  const verbs = offeredActions(d.rolloutStatus.state, d.rolloutStatus.aborted);
  if (verbs.length === 0) return html``;
  return html`<div class="actions" aria-label="Rollout actions">${verbs.map((v, i) => actionForm(d.name, ctx, v, i === 0))}</div>`;
}

/**
 * A device's page stays under 150 KB even when its report is at every limit (256 images of
 * 512-character names, each `<` escaped to four bytes): the page shows this many.
 */
const imagesShown = 40;
const labelsShown = 64;

function labelsText(labels: Record<string, string>, max = 4): SafeHtml {
  const entries = Object.entries(labels);
  const shown = entries.slice(0, max);
  return html`${shown.map(([k, v]) => html`<code class="label">${k}=${v}</code> `)}${entries.length > shown.length ? html`<span class="muted">+${entries.length - shown.length}</span>` : ''}`;
}

function clip(text: string | undefined, max: number): string {
  if (!text) return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function deviceRowHtml(fleet: string, r: DeviceRow, ctx: ViewContext): SafeHtml {
  return html`<tr>
<td data-label="Device" class="mono"><a href="${pathOf('fleets', fleet, 'devices', r.name)}">${r.name}</a></td>
<td data-label="State">${deviceStateBadge(r.state)}</td>
<td data-label="Stage">${r.stage ?? ''}</td>
<td data-label="Commit"><code>${shortCommit(r.commit) || '—'}</code>${r.revision ? (r.onTarget ? html` <span class="ok" title="on its target revision">${glyph.ok}<span class="visually-hidden"> on target</span></span>` : html` <span class="warn" title="not on its target revision">${glyph.recreated}<span class="visually-hidden"> not on target</span></span>`) : ''}</td>
<td data-label="Report" class="msg">${r.reason ? html`<strong>${r.reason}</strong>: ` : ''}${clip(r.message, 140)}</td>
<td data-label="Last seen">${r.connected ? html`<span class="ok">${glyph.connected} connected</span>` : ago(r.lastSeen, ctx.now)}</td>
<td data-label="Labels">${labelsText(r.labels)}</td>
</tr>`;
}

function pageLink(fleet: string, p: DevicePage, offset: number, label: string): SafeHtml {
  const query = new URLSearchParams();
  if (p.selector) query.set('selector', p.selector);
  if (p.state) query.set('state', p.state);
  if (offset > 0) query.set('offset', String(offset));
  const qs = query.toString();
  return html`<a class="button" href="${`${pathOf('fleets', fleet)}${qs ? `?${qs}` : ''}#devices`}">${label}</a>`;
}

function devicesSection(fleet: string, p: DevicePage, ctx: ViewContext): SafeHtml {
  const end = p.offset + p.rows.length;
  return html`<form class="filters" method="get" action="${pathOf('fleets', fleet)}" role="search" aria-label="Filter devices">
<label>Label selector <input type="text" name="selector" id="selector" value="${p.selector}" placeholder="ring=canary,site in (north,south)" autocomplete="off" spellcheck="false"></label>
<label>State <select name="state" id="state"><option value="">any</option>${deviceStates.map((s) => html`<option value="${s}"${p.state === s ? html` selected` : ''}>${s}</option>`)}</select></label>
<button type="submit">Filter</button>${p.selector || p.state ? html` <a href="${`${pathOf('fleets', fleet)}#devices`}">Clear</a>` : ''}
</form>
${p.error ? html`<p class="banner bad" role="alert">${p.error}</p>` : ''}
<p id="device-count" role="status">${p.matching === 0 ? 'No device matches.' : `Devices ${p.offset + 1}–${end} of ${p.matching}${p.selector || p.state ? ' matching' : ''}.`}</p>
${
  p.rows.length === 0
    ? ''
    : html`<div class="table"><table class="objects devices"><thead><tr><th scope="col">Device</th><th scope="col">State</th><th scope="col">Stage</th><th scope="col">Commit</th><th scope="col">Report</th><th scope="col">Last seen</th><th scope="col">Labels</th></tr></thead>
<tbody>${p.rows.map((r) => deviceRowHtml(fleet, r, ctx))}</tbody></table></div>`
}
${
  p.offset > 0 || end < p.matching
    ? html`<nav class="actions" aria-label="Device pages">${p.offset > 0 ? pageLink(fleet, p, Math.max(0, p.offset - p.limit), '← Previous') : ''}${
        end < p.matching ? pageLink(fleet, p, end, 'Next →') : ''
      }</nav>`
    : ''
}`;
}

export function fleetBody(d: FleetDetail, ctx: ViewContext): SafeHtml {
  const r = d.rolloutStatus;
  const tone = r?.state === 'Halted' ? 'bad' : r?.state === 'Paused' ? 'warn' : r?.state === 'Complete' ? 'ok' : 'info';
  return html`<p><a href="/">${glyph.back} Fleets</a></p>
<h1>${d.name} <span id="rollout-state">${rolloutBadge(r?.state)}</span></h1>
${d.problem ? html`<p class="banner bad"><strong>${d.problem.reason}</strong>: ${d.problem.message}</p>` : ''}
${d.policyError ? html`<p class="banner bad" role="alert">${d.policyError}</p>` : ''}
${r ? html`<p class="banner ${tone}" id="rollout-message">${r.message}${r.haltedBecause ? html`<br><strong>Halted because</strong>: ${r.haltedBecause}` : ''}</p>` : ''}
${actions(d, ctx)}
<dl class="kv">
<dt>Upstream</dt><dd class="mono">${d.git.url ?? ''} · ${d.git.branch} · ${d.git.path}/</dd>
<dt>Newest revision</dt><dd>${revisionText(d.revision)} ${d.revision ? ago(d.revision.createdAt, ctx.now) : ''}</dd>
${r ? html`<dt>Rolling out</dt><dd>${revisionText(d.rollout?.revision)}${r.stage ? html` · stage <strong id="current-stage">${r.stage}</strong>` : ''} · since ${ago(r.startedAt, ctx.now)}</dd>` : ''}
${d.lastGood ? html`<dt>Last good</dt><dd>${revisionText(d.lastGood)}</dd>` : ''}
${r?.lastCommand ? html`<dt>Last command</dt><dd class="mono">${r.lastCommand}</dd>` : ''}
${d.autoRollback !== undefined ? html`<dt>Auto rollback</dt><dd>${d.autoRollback ? 'yes' : 'no'}</dd>` : ''}
<dt>Devices</dt><dd id="fleet-counts">${counts(d.devices)}</dd>
<dt>Last poll</dt><dd>${ago(d.lastPolled, ctx.now)}</dd>
</dl>
<h2 id="stages">Stages</h2>
<div class="cards stages">${d.stages.map((s, i) => stageCard(s, ctx, i))}</div>
<h2 id="revisions">Revisions</h2>
${
  d.revisions.length === 0
    ? html`<p class="muted">None resolved yet.</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">Commit</th><th scope="col">Revision</th><th scope="col">Images</th><th scope="col">Resolved</th><th scope="col">Stages on it</th></tr></thead><tbody>${d.revisions.map(
        (v) =>
          html`<tr><td><code>${shortCommit(v.commit)}</code>${v.newest ? html` <span class="badge info">newest</span>` : ''}</td><td class="mono">${v.id}</td><td>${v.images.map((i) => html`<div class="mono">${i.repository}:${i.tag} <span class="muted">${(i.digest ?? '').slice(0, 19)}</span></div>`)}</td><td>${ago(v.createdAt, ctx.now)}</td><td>${v.stages.join(', ') || html`<span class="muted">${glyph.none}</span>`}</td></tr>`,
      )}</tbody></table></div>`
}
<h2 id="devices">Devices</h2>
${devicesSection(d.name, d.devicePage, ctx)}
<h2 id="events">Recent Events</h2>
${
  d.events.length === 0
    ? html`<p class="muted">None recorded by this replica since it started (the leader records them; <code>kubectl get events</code> has all).</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead><tbody>${d.events.map(
        (e) =>
          html`<tr><td>${ago(e.at, ctx.now)}</td><td>${e.type === 'Warning' ? badge('warn', '⚠', 'Warning') : badge('idle', 'ℹ', 'Normal')}</td><td>${e.reason}</td><td class="msg">${e.message}</td></tr>`,
      )}</tbody></table></div>`
}`;
}

export function deviceBody(d: DeviceDetail, ctx: ViewContext): SafeHtml {
  const report = d.report;
  return html`<p><a href="${pathOf('fleets', d.fleet)}">${glyph.back} ${d.fleet}</a></p>
<h1><span class="mono">${d.name}</span> <span id="device-state">${deviceStateBadge(d.state)}</span></h1>
${report ? html`<p class="banner ${d.state === 'failed' ? 'bad' : d.state === 'ready' ? 'ok' : 'info'}" id="report-message"><strong>${report.reason}</strong>: ${report.message}</p>` : html`<p class="muted">No report yet.</p>`}
<dl class="kv">
<dt>Fleet</dt><dd><a href="${pathOf('fleets', d.fleet)}">${d.fleet}</a></dd>
<dt>Stage</dt><dd>${d.stage ?? html`<span class="muted">${glyph.none}</span>`}</dd>
<dt>Told to run</dt><dd>${d.target ? html`${revisionText(d.target)} <span class="muted mono">${d.target.id}</span>` : html`<span class="muted">nothing yet</span>`}</dd>
<dt>Served</dt><dd class="mono">${d.servedRevision ?? '—'}</dd>
<dt>Reported commit</dt><dd><code id="report-commit">${report?.commit ?? '—'}</code>${d.revision ? html` <span class="muted mono">${d.revision}</span> ${d.onTarget ? html`<span class="ok">${glyph.ok} on target</span>` : html`<span class="warn">${glyph.recreated} not on target</span>`}` : ''}</dd>
<dt>Ready</dt><dd>${report?.ready ?? '—'}</dd>
<dt>Reason</dt><dd>${report?.reason ?? '—'}</dd>
<dt>Counts</dt><dd>${report?.counts ? `${report.counts.created} created, ${report.counts.configured} configured, ${report.counts.recreated} recreated, ${report.counts.unchanged} unchanged, ${report.counts.pruned} pruned` : '—'}</dd>
<dt>Agent version</dt><dd class="mono">${report?.agentVersion ?? '—'}</dd>
<dt>Reported</dt><dd>${ago(d.reportedAt, ctx.now)}</dd>
<dt>Last seen</dt><dd>${d.connected ? html`<span class="ok">${glyph.connected} connected</span> to <span class="mono">${d.servedBy ?? ''}</span>` : ago(d.lastSeen, ctx.now)}</dd>
<dt>Enrolled</dt><dd>${ago(d.enrolledAt, ctx.now)}</dd>
<dt>Labels</dt><dd>${Object.keys(d.labels).length === 0 ? html`<span class="muted">none</span>` : labelsText(d.labels, labelsShown)}</dd>
</dl>
<h2 id="history">History</h2>
${
  d.history.length === 0
    ? html`<p class="muted">No state change reported yet.</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Ready</th><th scope="col">Reason</th><th scope="col">Commit</th><th scope="col">Revision</th></tr></thead><tbody>${d.history.map(
        (h) =>
          html`<tr><td>${ago(h.at, ctx.now)}</td><td>${h.ready}</td><td>${h.reason}</td><td class="mono">${(h.commit ?? '').slice(0, 12)}</td><td class="mono">${h.revision ?? ''}</td></tr>`,
      )}</tbody></table></div>`
}
<h2 id="images">Images running</h2>
${
  (report?.images ?? []).length === 0
    ? html`<p class="muted">None reported.</p>`
    : html`<div class="table"><table><thead><tr><th scope="col">Repository</th><th scope="col">Digest</th></tr></thead><tbody>${(report?.images ?? [])
        .slice(0, imagesShown)
        .map(
          (i) => html`<tr><td class="mono">${clip(i.repository, 256)}</td><td class="mono">${i.digest}</td></tr>`,
        )}</tbody></table></div>${(report?.images ?? []).length > imagesShown ? html`<p class="muted">and ${(report?.images ?? []).length - imagesShown} more (<code>/api${pathOf('fleets', d.fleet, 'devices', d.name)}</code> has all)</p>` : ''}`
}`;
}
