/**
 * The fleet view served by `doris hub`, and its JSON API:
 *
 *   GET  /                                       Fleets: revision, rollout state and stage, device counts
 *   GET  /fleets/NAME[?selector=&state=&offset=] revisions by stage, rollout, Events, a page of devices
 *   GET  /fleets/NAME/devices/DEVICE             a device's last report
 *   POST /fleets/NAME/promote|pause|resume|abort the rollout commands (operator role, CSRF-protected)
 *   GET  /events?topic=list|fleet:NAME|device:NAME   server-sent events: which part changed
 *   GET  /api/fleets[/NAME[/devices/DEVICE]]     the same as JSON; POST /api/fleets/NAME/COMMAND
 *   GET  /login, POST /login, POST /logout       token logins (src/server/ui/gate.ts)
 *
 * The generic parts (layout, escaping, authentication, CSRF, SSE) are the cluster view's
 * (src/server/ui). A command is what `doris fleet promote|pause|resume|abort` does: the
 * annotation `hub.doris.dev/command: <verb>@<time>` on the Fleet, which the leader consumes,
 * so any replica can take it. Device reports are frequent: pages hear of them through events
 * coalesced per second (10,000 reports are one event per page, not 10,000), and the device
 * list is paged (50 a page), so a page stays small whatever the fleet's size.
 *
 * `handle` claims only its own routes; the device protocol (/v1/...), the webhooks, health
 * and metrics never reach it, so no cookie or CSRF rule of the dashboard applies to them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Device, type Fleet, hubApiVersion } from '../../api/hub.js';
import type { KubeClient } from '../../kube/client.js';
import type { Logger } from '../../log.js';
import type { Principal, UiAuthConfig } from '../../server/ui/auth.js';
import { UiGate } from '../../server/ui/gate.js';
import { pathOf, type SafeHtml } from '../../server/ui/html.js';
import { page, securityHeaders, sendAsset, sendHtml, sendJson } from '../../server/ui/layout.js';
import { readForm, wantsJson } from '../../server/ui/request.js';
import { SseHub } from '../../server/ui/sse.js';
import type { DeviceState } from '../devices.js';
import { commandAnnotation } from '../rollout/driver.js';
import type { RolloutCommand } from '../rollout/engine.js';
import { type DeviceQuery, deviceDetail, deviceStates, fleetDetail, summarizeFleet } from './model.js';
import type { RecentEvents } from './recent-events.js';
import { parseSelector } from './selector.js';
import { deviceBody, fleetBody, listBody } from './views.js';
import type { ViewContext } from '../../server/ui/pieces.js';
import { compareStrings } from '../../compare.js';

export interface FleetDashboard {
  /** Answers `req` if it is a dashboard route; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Ends the event streams (shutdown). */
  close(): void;
}

export interface FleetDashboardDeps {
  client: KubeClient;
  namespace: string;
  log: Logger;
  auth: UiAuthConfig;
  fleets: {
    get(name: string): Fleet | undefined;
    list(): Fleet[];
    onEvent(listener: (event: { type: 'upsert'; fleet: Fleet } | { type: 'delete'; name: string }) => void): void;
  };
  devices: {
    get(name: string): Device | undefined;
    list(): Device[];
    onChange(listener: (name: string, device: Device | undefined) => void): void;
    state(device: Device): DeviceState;
  };
  events: RecentEvents;
}

/** Devices on one page of the list: under 100 KB of HTML even when every report is at its limit, whatever the fleet's size. */
export const devicesPerPage = 50;
const commands = new Set<string>(['promote', 'pause', 'resume', 'abort']);
/** Events to pages at most once a second: a fleet reporting at once is one refresh per page. */
const coalesceMs = 1_000;

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? '');
  } catch {
    return '';
  }
}

/** The device filter from the query string (a bad selector is shown on the page, not a failure). */
export function deviceQuery(params: URLSearchParams): DeviceQuery {
  const selectorText = (params.get('selector') ?? '').slice(0, 1024);
  const stateText = params.get('state') ?? '';
  const state = (deviceStates as readonly string[]).includes(stateText) ? (stateText as DeviceState) : undefined;
  const offset = Math.max(0, Math.min(1_000_000, Number.parseInt(params.get('offset') ?? '0', 10) || 0));
  try {
    return { selector: parseSelector(selectorText), selectorText, state, offset, limit: devicesPerPage };
  } catch (error) {
    return { selectorText, state, offset, limit: devicesPerPage, error: `label selector: ${(error as Error).message}` };
  }
}

export function createFleetDashboard(deps: FleetDashboardDeps): FleetDashboard {
  const { fleets, devices, log } = deps;
  const gate = new UiGate(deps.auth, 'fleet');
  const streams = new SseHub({ maxClients: 64, heartbeatMs: 15_000, coalesceMs });
  fleets.onEvent((event) => {
    streams.notify('list');
    streams.notify(`fleet:${event.type === 'upsert' ? event.fleet.metadata.name : event.name}`);
  });
  devices.onChange((name, device) => {
    streams.notify('list');
    streams.notify(`device:${name}`);
    if (device) streams.notify(`fleet:${device.spec.fleet}`);
    else for (const f of fleets.list()) streams.notify(`fleet:${f.metadata.name}`);
  });
  deps.events.onRecord((fleet) => streams.notify(`fleet:${fleet}`));

  const ofFleet = (name: string) => devices.list().filter((d) => d.spec.fleet === name);
  const state = (d: Device) => devices.state(d);
  const context = (principal: Principal): ViewContext => ({ operator: principal.role === 'operator', csrf: gate.csrfFor(principal), now: Date.now() });

  const render = (req: IncomingMessage, res: ServerResponse, principal: Principal, title: string, topics: string[], body: SafeHtml) => {
    if (req.headers['x-doris-fragment'] === '1') return sendHtml(res, 200, body.text);
    const events = `/events?${topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&')}`;
    sendHtml(
      res,
      200,
      page({
        title,
        area: 'fleet',
        nav: [{ href: '/', label: 'Fleets', current: topics[0] === 'list' }],
        principal,
        logout: gate.logoutFor(principal),
        events,
        body,
      }),
    );
  };

  const notFound = (req: IncomingMessage, res: ServerResponse, api: boolean, what: string) => {
    if (api || wantsJson(req)) sendJson(res, 404, { error: `no ${what}` });
    else sendHtml(res, 404, gate.errorPage('Not found', `There is no ${what}.`));
  };

  const act = async (req: IncomingMessage, res: ServerResponse, principal: Principal, fleet: Fleet, verb: RolloutCommand, api: boolean) => {
    const form = await readForm(req);
    const token = form.get('csrf') ?? (req.headers['x-csrf-token'] as string | undefined);
    if (!gate.requireOperator(req, res, principal, token)) return;
    const name = fleet.metadata.name;
    // The time makes each request a new value: the same verb twice is two commands (as the CLI).
    const value = `${verb}@${new Date().toISOString()}`;
    await deps.client.mergePatch(
      { apiVersion: hubApiVersion, kind: 'Fleet', namespace: deps.namespace, name },
      { metadata: { annotations: { [commandAnnotation]: value } } },
    );
    log.info({ fleet: name, command: verb, user: principal.user }, 'dashboard rollout command');
    const message = `${verb} of ${name} requested; the hub leader acts on it within a second or so`;
    if (api || wantsJson(req)) return sendJson(res, 202, { message, annotation: value });
    res.writeHead(303, { ...securityHeaders, location: pathOf('fleets', name), 'cache-control': 'no-store' });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const path = url.pathname;
    if (req.method === 'GET' && path.startsWith('/ui/')) return sendAsset(res, path);
    if (await gate.handle(req, res, url)) return true;
    const api = path === '/api/fleets' || path.startsWith('/api/fleets/');
    const segments = (api ? path.slice('/api'.length) : path).split('/').slice(1);
    if (!(path === '/' || path === '/events' || segments[0] === 'fleets')) return false;
    const principal = gate.require(req, res, api);
    if (!principal) return true;

    if (path === '/events' && req.method === 'GET') {
      // A topic of nothing that exists simply never hears anything.
      const topics = url.searchParams.getAll('topic').slice(0, 4);
      streams.open(req, res, topics.length > 0 ? topics : ['list'], securityHeaders);
      return true;
    }
    const summaries = () =>
      fleets
        .list()
        .sort((a, b) => compareStrings(a.metadata.name, b.metadata.name))
        .map((f) => summarizeFleet(f, ofFleet(f.metadata.name), state));
    if (path === '/' && req.method === 'GET') {
      render(req, res, principal, 'Fleets', ['list'], listBody(summaries(), context(principal)));
      return true;
    }
    if (segments.length === 1 && req.method === 'GET') {
      if (!api) return false;
      sendJson(res, 200, { fleets: summaries() });
      return true;
    }
    const name = decode(segments[1]);
    const fleet = fleets.get(name);
    if (!fleet) {
      notFound(req, res, api, `Fleet ${name}`);
      return true;
    }
    const sub = segments[2];
    if (segments.length === 2 && req.method === 'GET') {
      const model = fleetDetail(fleet, ofFleet(name), state, deps.events.of(name), deviceQuery(url.searchParams), Date.now());
      if (api) sendJson(res, 200, model);
      else render(req, res, principal, name, [`fleet:${name}`], fleetBody(model, context(principal)));
    } else if (segments.length === 4 && sub === 'devices' && req.method === 'GET') {
      const deviceName = decode(segments[3]);
      const device = devices.get(deviceName);
      if (!device || device.spec.fleet !== name) {
        notFound(req, res, api, `device ${deviceName} in Fleet ${name}`);
        return true;
      }
      const model = deviceDetail(fleet, device, state(device), Date.now());
      if (api) sendJson(res, 200, model);
      else render(req, res, principal, `${deviceName} · ${name}`, [`device:${deviceName}`, `fleet:${name}`], deviceBody(model, context(principal)));
    } else if (segments.length === 3 && sub && commands.has(sub) && req.method === 'POST') {
      await act(req, res, principal, fleet, sub as RolloutCommand, api);
    } else {
      sendJson(res, req.method === 'GET' || req.method === 'POST' ? 404 : 405, { error: `no route ${req.method} ${path.slice(0, 120)}` });
    }
    return true;
  };

  return { handle, close: () => streams.close() };
}
