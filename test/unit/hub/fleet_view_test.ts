/**
 * The fleet view's pure parts: the device filter's label selectors (kubectl spelling, a
 * table of bad input), the model (stages and counts, paging, filters) and the HTML, where a
 * device's report is hostile input: nothing a device wrote may become markup.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Device, type Fleet, fleetLabel, type Revision } from '../../../src/api/hub.js';
import type { DeviceState } from '../../../src/hub/devices.js';
import { devicesPerPage, deviceQuery } from '../../../src/hub/ui/dashboard.js';
import { deviceDetail, fleetDetail, summarizeFleet } from '../../../src/hub/ui/model.js';
import { formatSelector, parseSelector, SelectorError } from '../../../src/hub/ui/selector.js';
import { deviceBody, fleetBody, listBody, offeredActions } from '../../../src/hub/ui/views.js';
import { selects } from '../../../src/hub/rollout/policy.js';

const evil = '<img src=x onerror="window.__xss=1">&\'';
const now = Date.parse('2026-12-01T10:10:00Z');

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16)}`,
  commit: String(n).repeat(40),
  bundle: `sha256:${String(n).repeat(64)}`,
  bundleSize: 10,
  images: [{ rule: 'r', repository: `registry.test/app${evil}`, tag: 'main', digest: `sha256:${'a'.repeat(64)}` }],
  createdAt: '2026-12-01T10:00:00Z',
});
const [A, B] = [revision(1), revision(2)];

function fleet(rollout?: unknown): Fleet {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Fleet',
    metadata: { name: 'solar', namespace: 'hub' },
    spec: {
      git: { url: 'https://git.test/fleet.git', branch: 'main' },
      rollout: { stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, soak: '1m' }] },
    },
    status: {
      revision: B,
      revisions: [B, A],
      lastPolled: '2026-12-01T10:09:00Z',
      rollout: rollout ?? {
        state: 'Progressing',
        revision: B.id,
        lastGood: A.id,
        stage: 'canary',
        stageIndex: 0,
        startedAt: '2026-12-01T10:05:00Z',
        message: `stage canary: 1 of 2 ready ${evil}`,
        stages: [
          { name: 'canary', revision: B.id, devices: 2, updated: 2, ready: 1, failed: 1, offline: 0, startedAt: '2026-12-01T10:05:00Z' },
          { name: '(rest)', revision: A.id, devices: 3, updated: 0, ready: 0, failed: 0, offline: 1 },
        ],
      },
    },
  };
}

function device(name: string, labels: Record<string, string>, ready: 'True' | 'False', message = 'applied'): Device {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Device',
    metadata: { name, namespace: 'hub', labels: { ...labels, [fleetLabel]: 'solar' }, creationTimestamp: '2026-12-01T09:00:00Z' },
    spec: { fleet: 'solar', tokenHash: 'sha256:x' },
    status: {
      connected: true,
      servedBy: `hub-1${evil}`,
      report: {
        revision: B.id,
        commit: B.commit,
        ready,
        reason: ready === 'True' ? 'Succeeded' : `Failed${evil}`,
        message,
        agentVersion: `0.1.0${evil}`,
        images: [{ repository: `registry.test/app${evil}`, digest: `sha256:${'b'.repeat(64)}` }],
      },
      reportedAt: '2026-12-01T10:08:00Z',
    },
  };
}

const devices = [
  device('canary-1', { ring: 'canary', site: 'north' }, 'True'),
  device('canary-2', { ring: 'canary', site: 'south' }, 'False', `boom ${evil}`),
  device('edge-1', { ring: 'rest', site: 'north' }, 'True'),
];
const stateOf = (d: Device): DeviceState => (d.status?.report?.ready === 'True' ? 'ready' : 'failed');
const ctx = { operator: true, csrf: 'c"sr<f', now };

function assertNoInjectedMarkup(text: string) {
  assert.ok(!text.includes('<img'), 'an <img> got through');
  assert.ok(!text.includes('onerror="'), 'an attribute got through');
  assert.ok(text.includes('&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;&amp;&#39;'), 'the hostile text is shown, escaped');
}

describe('fleet view: label selectors of the device filter', () => {
  it('reads what kubectl -l reads', () => {
    const labels = { ring: 'canary', site: 'north' };
    const cases: Array<[string, boolean]> = [
      ['', true],
      ['ring=canary', true],
      ['ring==canary,site=north', true],
      ['ring!=canary', false],
      ['ring in (canary, early)', true],
      ['ring notin (canary)', false],
      ['site', true],
      ['!gpu', true],
      ['gpu', false],
      ['ring=canary,ring=rest', false],
      [' ring = canary , site in (north) ', true],
    ];
    for (const [text, expected] of cases) assert.equal(selects(parseSelector(text), labels), expected, text);
    assert.equal(formatSelector(parseSelector('ring in (a,b),!gpu,site')), 'ring in (a,b),!gpu,site');
  });

  it('refuses what is not a selector, saying which part', () => {
    const bad: Array<[string, RegExp]> = [
      ['<script>=1', /"<script>" .* is not a label key/],
      ['ring=<b>', /"<b>" .* is not a label value/],
      [`x.io/${'n'.repeat(64)}`, /is not a label key: its name must be at most 63/],
      ['a..b/ring=x', /"a\.\.b\/ring" .* is not a label key: its prefix must be a DNS-1123 subdomain/],
      ['a/b/c', /is not a label key: more than one '\/'/],
      [`ring=${'v'.repeat(64)}`, /is not a label value/],
      ['ring in (a', /unbalanced parentheses/],
      ['ring in ((a))', /unbalanced parentheses/],
      ['a,,b', /an empty requirement/],
      ['ring in ()', /needs at least one value/],
      ['x'.repeat(1025), /at most 1024/],
      [Array.from({ length: 33 }, (_, i) => `k${i}`).join(','), /at most 32/],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => parseSelector(text),
        (e: unknown) => e instanceof SelectorError && message.test(e.message),
        text,
      );
    }
  });

  it('a bad filter is a message on the page, not a failure', () => {
    const q = deviceQuery(new URLSearchParams({ selector: 'ring in (', state: 'bogus', offset: '-5' }));
    assert.match(q.error ?? '', /label selector: unbalanced/);
    assert.equal(q.state, undefined);
    assert.equal(q.offset, 0);
    const page = fleetDetail(fleet(), devices, stateOf, [], q, now).devicePage;
    assert.equal(page.matching, 0);
    assert.match(fleetBody(fleetDetail(fleet(), devices, stateOf, [], q, now), ctx).text, /role="alert">label selector: unbalanced/);
  });
});

describe('fleet view: model', () => {
  it('stages with their revisions and counts; revisions with the stages on them', () => {
    const d = fleetDetail(fleet(), devices, stateOf, [], deviceQuery(new URLSearchParams()), now);
    assert.deepEqual(
      d.stages.map((s) => [s.name, s.revision?.commit, s.devices, s.updated, s.ready, s.failed, s.offline, s.current, s.selector]),
      [
        ['canary', B.commit, 2, 2, 1, 1, 0, true, 'ring=canary'],
        ['(rest)', A.commit, 3, 0, 0, 0, 1, false, 'devices no other stage selects'],
      ],
    );
    assert.deepEqual(
      d.revisions.map((r) => [r.id, r.newest, r.stages]),
      [
        [B.id, true, ['canary']],
        [A.id, false, ['(rest)']],
      ],
    );
    assert.equal(d.lastGood?.commit, A.commit);
    assert.deepEqual(summarizeFleet(fleet(), devices, stateOf).devices, { total: 3, ready: 2, failed: 1, offline: 0, unknown: 0 });
  });

  it('without a rollout policy: one stage of every device on the newest revision', () => {
    const f = fleet();
    f.spec = { git: { url: 'https://git.test/fleet.git' } };
    delete f.status!.rollout;
    const d = fleetDetail(f, devices, stateOf, [], deviceQuery(new URLSearchParams()), now);
    assert.deepEqual(
      d.stages.map((s) => [s.name, s.devices, s.updated, s.ready, s.failed]),
      [['all devices', 3, 3, 2, 1]],
    );
    assert.equal(d.rollout, undefined);
  });

  it('filters by selector and state, failed first, in pages of 50', () => {
    const q = (params: Record<string, string>) => fleetDetail(fleet(), devices, stateOf, [], deviceQuery(new URLSearchParams(params)), now).devicePage;
    assert.deepEqual(
      q({}).rows.map((r) => r.name),
      ['canary-2', 'canary-1', 'edge-1'],
    );
    assert.deepEqual(
      q({ selector: 'site=north' }).rows.map((r) => r.name),
      ['canary-1', 'edge-1'],
    );
    assert.deepEqual(
      q({ selector: 'ring=canary', state: 'ready' }).rows.map((r) => r.name),
      ['canary-1'],
    );
    const many = Array.from({ length: 250 }, (_, i) => device(`d-${String(i).padStart(4, '0')}`, { ring: 'rest' }, 'True'));
    const second = fleetDetail(fleet(), many, stateOf, [], deviceQuery(new URLSearchParams({ offset: '100' })), now).devicePage;
    assert.equal(second.rows.length, devicesPerPage);
    assert.equal(second.rows[0]?.name, 'd-0100');
    assert.equal(second.matching, 250);
    const html = fleetBody(fleetDetail(fleet(), many, stateOf, [], deviceQuery(new URLSearchParams({ offset: '200' })), now), ctx).text;
    assert.ok(html.includes('Devices 201–250 of 250.'), 'the count of the last page');
    assert.ok(html.includes(`href="/fleets/solar?offset=${200 - devicesPerPage}#devices">← Previous`), 'a link to the previous page');
    assert.ok(!html.includes('Next →'), 'a next page after the last');
  });
});

describe('fleet view: HTML', () => {
  it('escapes everything a device reports, on the list, the Fleet and the device page', () => {
    const events = [{ at: '2026-12-01T10:06:00Z', type: 'Warning' as const, reason: 'RolloutHalted' as never, message: `halted: ${evil}` }];
    const list = listBody([summarizeFleet(fleet(), devices, stateOf)], ctx).text;
    assert.ok(list.includes('&lt;img'), 'the rollout message is on the list');
    assert.ok(!list.includes('<img'));
    const page = fleetBody(fleetDetail(fleet(), devices, stateOf, events, deviceQuery(new URLSearchParams({ selector: `"><img src=x>` })), now), ctx).text;
    assert.ok(!page.includes('<img'), 'the filter echoed as markup');
    const all = fleetBody(fleetDetail(fleet(), devices, stateOf, events, deviceQuery(new URLSearchParams()), now), ctx).text;
    assertNoInjectedMarkup(all);
    assert.ok(all.includes('value="c&quot;sr&lt;f"'), 'the CSRF token is escaped in its attribute');
    const detail = deviceBody(deviceDetail(fleet(), devices[1]!, 'failed', now), ctx).text;
    assertNoInjectedMarkup(detail);
    assert.match(detail, /<strong>Failed&lt;img/);
  });

  it('states are words and symbols; progress bars carry their numbers as text', () => {
    const page = fleetBody(fleetDetail(fleet(), devices, stateOf, [], deviceQuery(new URLSearchParams()), now), ctx).text;
    assert.match(page, /<progress max="2" value="1" aria-label="canary: ready"><\/progress><span>1 of 2 online ready \(50%\)<\/span>/);
    assert.match(page, /<span aria-hidden="true">✖<\/span>Failed/);
    assert.match(page, /<span aria-hidden="true">⟳<\/span>Progressing/);
  });

  it('an operator gets the commands that fit the state; a viewer gets none', () => {
    const page = fleetBody(fleetDetail(fleet(), devices, stateOf, [], deviceQuery(new URLSearchParams()), now), ctx).text;
    for (const verb of ['promote', 'pause', 'abort']) assert.match(page, new RegExp(`action="/fleets/solar/${verb}"`));
    assert.doesNotMatch(page, /action="\/fleets\/solar\/resume"/);
    const viewer = fleetBody(fleetDetail(fleet(), devices, stateOf, [], deviceQuery(new URLSearchParams()), now), { ...ctx, operator: false }).text;
    assert.doesNotMatch(viewer, /<form method="post"/);
    assert.match(viewer, /Viewer: promote, pause, resume and abort need the operator role/);
    assert.deepEqual(offeredActions('Paused', false), ['resume', 'promote', 'abort']);
    assert.deepEqual(offeredActions('Halted', true), ['resume']);
    assert.deepEqual(offeredActions('Complete', false), []);
  });
});
