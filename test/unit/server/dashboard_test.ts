import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline } from '../../../src/api/pipeline.js';
import { SyncActivity } from '../../../src/controller/activity.js';
import { byWave, detail, type ObjectView, summarize } from '../../../src/server/dashboard-model.js';
import { changesBody, detailBody, listBody } from '../../../src/server/dashboard-views.js';
import { escapeHtml, html, pathOf, trusted } from '../../../src/server/ui/html.js';
import { page } from '../../../src/server/ui/layout.js';

const evil = '<img src=x onerror="alert(1)">&\'';

function pipeline(name: string, message: string): Pipeline {
  return {
    apiVersion: 'doris.dev/v1alpha1',
    kind: 'Pipeline',
    metadata: { name, namespace: 'doris-system' },
    spec: { git: { url: `https://example.com/${evil}.git` } },
    status: {
      conditions: [{ type: 'Ready', status: 'False', reason: 'ApplyFailed', message, lastTransitionTime: '2026-12-01T10:00:00Z' }],
      lastAttemptedCommit: evil,
      history: [
        {
          commit: evil,
          startedAt: '2026-12-01T10:00:00Z',
          finishedAt: '2026-12-01T10:00:02Z',
          result: 'ApplyFailed',
          message,
          counts: { created: 0, configured: 0, unchanged: 0, recreated: 0, pruned: 0 },
        },
      ],
      images: [{ rule: evil, repository: evil, tag: evil, digest: evil, error: evil }],
      imageHistory: [{ repository: evil, tag: evil, to: evil, at: '2026-12-01T10:00:00Z' }],
    },
  };
}

const object = (over: Partial<ObjectView>): ObjectView => ({
  id: 'ns_x__ConfigMap',
  kind: 'ConfigMap',
  namespace: 'ns',
  name: 'x',
  wave: 1,
  waveName: '1-base',
  step: 10,
  file: 'deploy/1-base/10-x.yml',
  action: 'created',
  actionAt: '2026-12-01T10:00:00Z',
  health: { status: 'Current', message: 'ConfigMap is current' },
  ...over,
});

const ctx = { operator: true, csrf: 'tok"en<', now: Date.parse('2026-12-01T10:01:00Z') };

/** No markup from data: every `<` left in the output is one of our own tags. */
function assertNoInjectedMarkup(text: string) {
  assert.ok(!text.includes('<img'), 'an <img> got through');
  assert.ok(!text.includes('onerror="'), 'an attribute got through');
  assert.ok(text.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;'));
}

describe('dashboard HTML escaping', () => {
  it('the html template escapes values, keeps nested templates, drops absent values', () => {
    assert.equal(html`<p>${evil}</p>`.text, `<p>${escapeHtml(evil)}</p>`);
    assert.equal(html`<p>${html`<b>${'<'}</b>`}</p>`.text, '<p><b>&lt;</b></p>');
    assert.equal(html`${[1, '<', html`<i></i>`]}`.text, '1&lt;<i></i>');
    assert.equal(html`${undefined}${null}${false}${0}`.text, '0');
    assert.equal(html`${trusted('<br>')}`.text, '<br>');
    assert.equal(pathOf('pipelines', '../x?y#z'), '/pipelines/..%2Fx%3Fy%23z');
  });

  it('escapes names, messages, commits, images and history on the list, detail and changes pages', () => {
    const p = pipeline('web', `failed: ${evil}`);
    const activity = new SyncActivity();
    activity.event('web', { at: '2026-12-01T10:00:00Z', type: 'Warning', reason: 'ApplyFailed', message: evil });
    const objects = [object({ name: evil, health: { status: 'Failed', message: evil }, file: evil })];
    const list = listBody([summarize(p, activity.get('web'))], ctx).text;
    assertNoInjectedMarkup(list);
    const page = detailBody(detail(p, activity.get('web'), objects), ctx).text;
    assertNoInjectedMarkup(page);
    assert.ok(page.includes('value="tok&quot;en&lt;"'), 'the CSRF token is escaped in its attribute');
    const changes = changesBody(
      evil,
      {
        commit: evil,
        diffs: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: evil,
            action: 'update',
            changes: [{ path: evil, op: 'change', from: evil, to: evil }],
            stage: evil,
            source: evil,
            note: evil,
          },
        ],
        problems: [{ severity: 'warning', file: evil, message: evil }],
        pruneRefusal: evil,
      },
      undefined,
    ).text;
    assertNoInjectedMarkup(changes);
    assertNoInjectedMarkup(changesBody('web', undefined, evil).text);
  });

  it('the page shell loads only our own script and stylesheet, and escapes its title and user', () => {
    const text = page({
      title: evil,
      area: 'cluster',
      nav: [{ href: '/', label: evil }],
      principal: { user: evil, role: 'viewer', ambient: true, session: 's' },
      body: html``,
    });
    assertNoInjectedMarkup(text);
    const sources = [...text.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    for (const source of sources) assert.ok(source.startsWith('/') || source === 'data:,' || source === '#main', source);
    assert.ok(!/<script>/.test(text), 'no inline script');
  });

  it('shows actions to operators only', () => {
    const s = summarize(pipeline('web', 'm'));
    assert.match(listBody([s], ctx).text, /Sync now/);
    const viewer = listBody([s], { ...ctx, operator: false }).text;
    assert.doesNotMatch(viewer, /<form/);
    assert.match(viewer, /actions need the operator role/);
  });
});

describe('dashboard model', () => {
  it('orders waves, then steps (unknown steps last), then objects', () => {
    const waves = byWave([
      object({ id: 'c', wave: 2, waveName: '2-app', step: 170, name: 'c' }),
      object({ id: 'b', wave: 1, waveName: '1', step: undefined, name: 'b' }),
      object({ id: 'a', wave: 1, waveName: '1-base', step: 120, name: 'a' }),
      object({ id: 'd', wave: 1, waveName: '1-base', step: 10, name: 'd' }),
    ]);
    assert.deepEqual(
      waves.map((w) => [w.name, w.steps.map((s) => [s.step, s.objects.map((o) => o.name)])]),
      [
        [
          '1-base',
          [
            [10, ['d']],
            [120, ['a']],
            [undefined, ['b']],
          ],
        ],
        ['2-app', [[170, ['c']]]],
      ],
    );
  });
});

describe('the controller activity the dashboard shows', () => {
  const desired = (name: string, step: number) => ({
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' } },
    wave: 1,
    waveName: '1-base',
    step,
    source: { file: `deploy/1-base/${step}-${name}.yml`, line: 1, col: 1 },
  });
  const change = (name: string, action: 'created' | 'unchanged' | 'configured') =>
    ({ id: `ns_${name}__ConfigMap`, action, desired: desired(name, 10), live: desired(name, 10).object, readable: true }) as never;
  const counts = { created: 0, configured: 0, unchanged: 0, recreated: 0, pruned: 0 };

  it('keeps the last action per object and the last change, forgets what was pruned one sync later', () => {
    const a = new SyncActivity();
    const heard: string[] = [];
    a.subscribe((name) => heard.push(name));
    const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s));
    a.queued('web', 'dashboard', t(0));
    a.started('web', t(1));
    assert.equal(a.get('web')?.queued, undefined);
    a.progress('web', { type: 'commit', commit: 'c1' }, t(1));
    a.progress('web', { type: 'applied', label: 'wave 1', counts, changes: [change('a', 'created'), change('b', 'created')] }, t(2));
    a.outcome('web', { commit: 'c1', result: 'Succeeded', message: 'ok', wrote: true }, t(3));
    a.finished('web');
    a.started('web', t(10));
    a.progress('web', { type: 'commit', commit: 'c2' }, t(10));
    a.progress('web', { type: 'applied', label: 'wave 1', counts, changes: [change('a', 'unchanged')] }, t(11));
    a.progress(
      'web',
      { type: 'pruned', result: { pruned: [{ id: 'ns_b__ConfigMap', v: 'v1', wave: 1 }], skipped: [], failed: [], pending: [], unverified: [] } },
      t(12),
    );
    a.finished('web');
    const objects = a.get('web')!.objects;
    assert.equal(objects.get('ns_a__ConfigMap')?.action, 'unchanged');
    assert.deepEqual(objects.get('ns_a__ConfigMap')?.changed, { action: 'created', at: t(2).toISOString() });
    assert.equal(objects.get('ns_b__ConfigMap')?.action, 'pruned');
    assert.equal(a.get('web')?.syncing, undefined);
    assert.equal(a.get('web')?.lastSync?.commit, 'c1');
    a.progress('web', { type: 'commit', commit: 'c3' }, t(20));
    assert.equal(objects.has('ns_b__ConfigMap'), false);
    assert.ok(heard.length >= 8 && heard.every((n) => n === 'web'));
  });

  it('updates each object in place on a resync, and gives a new `changed` when it changed', () => {
    const a = new SyncActivity();
    const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s));
    const sync = (s: number, action: 'created' | 'unchanged' | 'configured') =>
      a.progress('web', { type: 'applied', label: 'wave 1', counts, changes: [change('a', action)] }, t(s));
    sync(1, 'created');
    const record = a.get('web')!.objects.get('ns_a__ConfigMap')!;
    const created = record.changed;
    sync(2, 'unchanged');
    assert.equal(a.get('web')!.objects.get('ns_a__ConfigMap'), record, 'a resync of an unchanged object made a new record');
    assert.equal(record.at, t(2).toISOString());
    assert.equal(record.changed, created);
    sync(3, 'configured');
    assert.deepEqual(record.changed, { action: 'configured', at: t(3).toISOString() });
    assert.deepEqual(created, { action: 'created', at: t(1).toISOString() }, 'the `changed` a reader was given changed under it');
  });

  it('forgets a Pipeline deleted during its sync for good: the end of that sync brings nothing back', () => {
    const a = new SyncActivity();
    a.started('web');
    a.forget('web');
    a.finished('web');
    assert.equal(a.get('web'), undefined);
  });

  it('keeps a bounded number of Events, newest first', () => {
    const a = new SyncActivity();
    for (let i = 0; i < 50; i++) a.event('web', { at: `${i}`, type: 'Normal', reason: 'Succeeded', message: `${i}` });
    const events = a.get('web')!.events;
    assert.equal(events.length, 20);
    assert.equal(events[0]!.message, '49');
    a.forget('web');
    assert.equal(a.get('web'), undefined);
  });
});
