/**
 * The cluster dashboard served by `doris run`, and its JSON API:
 *
 *   GET  /                                 Pipelines
 *   GET  /pipelines/NAME                   waves → steps → objects, images, history, conditions, Events
 *   GET  /pipelines/NAME/changes           what a sync would change now (on demand: dry-runs)
 *   POST /pipelines/NAME/sync|suspend|resume   actions (operator role, CSRF-protected)
 *   GET  /events?topic=list|pipeline:NAME  server-sent events: which part changed
 *   GET  /api/pipelines[/NAME[/changes]]   the same data as JSON; POST /api/pipelines/NAME/ACTION
 *   GET  /login, POST /login, POST /logout token logins (ui/gate.ts)
 *
 * Pages are rendered on the server; a page that follows events fetches its own URL with
 * `x-doris-fragment: 1` and replaces its `<main>` (ui/assets.ts), so nothing reloads. Every
 * route but the static assets goes through the gate (ui/auth.ts): the API has the same rules
 * as the pages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pipeline } from '../api/pipeline.js';
import type { Logger } from '../log.js';
import type { ClusterSource } from './cluster-source.js';
import { detail, summarize } from './dashboard-model.js';
import { changesBody, detailBody, listBody } from './dashboard-views.js';
import type { ViewContext } from './ui/pieces.js';
import type { Principal, UiAuthConfig } from './ui/auth.js';
import { UiGate } from './ui/gate.js';
import { type html, pathOf } from './ui/html.js';
import { page, securityHeaders, sendAsset, sendHtml, sendJson } from './ui/layout.js';
import { readForm, wantsJson } from './ui/request.js';
import { SseHub } from './ui/sse.js';
import { compareStrings } from '../compare.js';

export { summarize } from './dashboard-model.js';

export interface Dashboard {
  /** Answers `req` if it is a dashboard route; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Ends the event streams (shutdown). */
  close(): void;
}

/** How often pages showing live health are told to look again, while any page is open. */
const healthRefreshMs = 5_000;

type Action = 'sync' | 'suspend' | 'resume';
const actions = new Set<string>(['sync', 'suspend', 'resume']);

export function createDashboard(source: ClusterSource, auth: UiAuthConfig, log: Logger): Dashboard {
  const gate = new UiGate(auth, 'cluster');
  const events = new SseHub();
  const unsubscribe = source.subscribe((name) => {
    events.notify('list');
    events.notify(`pipeline:${name}`);
  });
  const ticker = setInterval(() => {
    if (events.size === 0) return;
    for (const p of source.pipelines()) events.notify(`pipeline:${p.metadata.name}`);
  }, healthRefreshMs).unref();

  const find = (name: string): Pipeline | undefined => source.pipelines().find((p) => p.metadata.name === name);
  const sorted = () => source.pipelines().sort((a, b) => compareStrings(a.metadata.name, b.metadata.name));
  const context = (principal: Principal): ViewContext => ({ operator: principal.role === 'operator', csrf: gate.csrfFor(principal), now: Date.now() });
  const nav = (current: string) => [{ href: '/', label: 'Pipelines', current: current === 'list' }];

  const render = (
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    title: string,
    view: string,
    body: ReturnType<typeof html>,
    live: boolean,
  ) => {
    if (req.headers['x-doris-fragment'] === '1') return sendHtml(res, 200, body.text);
    sendHtml(
      res,
      200,
      page({
        title,
        area: 'cluster',
        nav: nav(view),
        principal,
        logout: gate.logoutFor(principal),
        events: live ? `/events?topic=${encodeURIComponent(view === 'list' ? 'list' : `pipeline:${view}`)}` : undefined,
        body,
      }),
    );
  };

  const act = async (req: IncomingMessage, res: ServerResponse, principal: Principal, pipeline: Pipeline, action: Action, api: boolean) => {
    const form = await readForm(req);
    const token = form.get('csrf') ?? (req.headers['x-csrf-token'] as string | undefined);
    if (!gate.requireOperator(req, res, principal, token)) return;
    const name = pipeline.metadata.name;
    let message: string;
    if (action === 'sync') {
      if (!source.sync(name, `dashboard (${principal.user})`)) {
        return sendJson(res, 409, { error: 'this replica does not lead; the leader syncs (try again through the Service)' });
      }
      message = `sync of ${name} requested`;
    } else {
      await source.setSuspend(pipeline, action === 'suspend');
      message = `${name} ${action === 'suspend' ? 'suspended' : 'resumed'}`;
    }
    log.info({ pipeline: name, action, user: principal.user }, 'dashboard action');
    if (api || wantsJson(req)) return sendJson(res, 202, { message });
    res.writeHead(303, { ...securityHeaders, location: pathOf('pipelines', name), 'cache-control': 'no-store' });
    res.end();
  };

  const pipelinePage = async (req: IncomingMessage, res: ServerResponse, principal: Principal, pipeline: Pipeline, api: boolean) => {
    const name = pipeline.metadata.name;
    const model = detail(pipeline, source.activity(name), await source.objects(pipeline));
    if (api) return sendJson(res, 200, model);
    render(req, res, principal, name, name, detailBody(model, context(principal)), true);
  };

  const changesPage = async (req: IncomingMessage, res: ServerResponse, principal: Principal, pipeline: Pipeline, api: boolean) => {
    const name = pipeline.metadata.name;
    try {
      const diff = await source.preview(name);
      if (api) return sendJson(res, 200, diff);
      render(req, res, principal, `${name}: changes`, name, changesBody(name, diff, undefined), false);
    } catch (error) {
      const message = (error as Error).message;
      if (api) return sendJson(res, 502, { error: message });
      render(req, res, principal, `${name}: changes`, name, changesBody(name, undefined, message), false);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const path = url.pathname;
    if (req.method === 'GET' && path.startsWith('/ui/')) return sendAsset(res, path);
    if (await gate.handle(req, res, url)) return true;
    const api = path === '/api/pipelines' || path.startsWith('/api/pipelines/');
    const segments = (api ? path.slice('/api'.length) : path).split('/').slice(1);
    const isPage = path === '/' || path === '/events' || segments[0] === 'pipelines';
    if (!isPage) return false;
    const principal = gate.require(req, res, api);
    if (!principal) return true;

    if (path === '/events' && req.method === 'GET') {
      // `list` or `pipeline:NAME`: a name of no Pipeline simply never hears anything.
      events.open(req, res, [url.searchParams.get('topic') ?? 'list'], securityHeaders);
      return true;
    }
    if (path === '/' && req.method === 'GET') {
      const summaries = sorted().map((p) => summarize(p, source.activity(p.metadata.name)));
      render(req, res, principal, 'Pipelines', 'list', listBody(summaries, context(principal)), true);
      return true;
    }
    if (segments.length === 1 && segments[0] === 'pipelines' && req.method === 'GET') {
      if (!api) return false;
      sendJson(res, 200, { pipelines: sorted().map((p) => summarize(p, source.activity(p.metadata.name))) });
      return true;
    }
    let name: string;
    try {
      name = decodeURIComponent(segments[1] ?? '');
    } catch {
      name = '';
    }
    const pipeline = find(name);
    if (!pipeline) {
      if (api || wantsJson(req)) sendJson(res, 404, { error: `no Pipeline ${name}` });
      else sendHtml(res, 404, gate.errorPage('Not found', `There is no Pipeline ${name}.`));
      return true;
    }
    const sub = segments[2];
    if (segments.length === 2 && req.method === 'GET') await pipelinePage(req, res, principal, pipeline, api);
    else if (segments.length === 3 && sub === 'changes' && req.method === 'GET') await changesPage(req, res, principal, pipeline, api);
    else if (segments.length === 3 && sub && actions.has(sub) && req.method === 'POST') await act(req, res, principal, pipeline, sub as Action, api);
    else sendJson(res, req.method === 'GET' || req.method === 'POST' ? 404 : 405, { error: `no route ${req.method} ${path}` });
    return true;
  };

  return {
    handle,
    close: () => {
      unsubscribe();
      clearInterval(ticker);
      events.close();
    },
  };
}
