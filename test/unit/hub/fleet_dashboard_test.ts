/**
 * The fleet view's routes over a real HTTP server on 127.0.0.1, fed by plain data (no hub):
 * which paths it claims (never the device protocol, webhooks, health or metrics), that a
 * page with 10,000 devices stays under 150 KB with its assets, and that 10,000 device changes
 * are one event to an open page, not 10,000.
 */
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Device, type Fleet, fleetLabel } from '../../../src/api/hub.js';
import type { DeviceState } from '../../../src/hub/devices.js';
import { createFleetDashboard, type FleetDashboard } from '../../../src/hub/ui/dashboard.js';
import { RecentEvents } from '../../../src/hub/ui/recent-events.js';
import { createLogger } from '../../../src/log.js';
import { script, stylesheet } from '../../../src/server/ui/assets.js';

const evil = '<img src=x onerror="window.__xss=1">';
const fleet: Fleet = {
  apiVersion: 'hub.doris.dev/v1alpha1',
  kind: 'Fleet',
  metadata: { name: 'solar', namespace: 'hub' },
  spec: { git: { url: 'https://git.test/fleet.git' } },
  status: {
    revision: {
      id: 'r-1111111111111111',
      commit: '1'.repeat(40),
      bundle: `sha256:${'1'.repeat(64)}`,
      bundleSize: 1,
      images: [],
      createdAt: '2026-12-01T10:00:00Z',
    },
  },
};

/** The largest device a report and the label rules allow: every field at its limit, hostile where it may be. */
function bigDevice(i: number): Device {
  const labels: Record<string, string> = { [fleetLabel]: 'solar' };
  for (let k = 0; k < 10; k++) labels[`example.com/label-${k}`] = `v${i}-${'x'.repeat(55)}`;
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Device',
    metadata: { name: `device-${String(i).padStart(5, '0')}-${'n'.repeat(40)}`, namespace: 'hub', labels },
    spec: { fleet: 'solar', tokenHash: 'sha256:x' },
    status: {
      report: {
        revision: 'r-1111111111111111',
        commit: '1'.repeat(40),
        ready: i % 3 === 0 ? 'False' : 'True',
        reason: `${evil}`.padEnd(64, '<').slice(0, 64),
        message: evil.repeat(60).slice(0, 2048),
        images: [],
        agentVersion: 'x'.repeat(64),
      },
      reportedAt: '2026-12-01T10:00:00Z',
      lastSeen: '2026-12-01T10:00:00Z',
    },
  };
}

const devices = Array.from({ length: 10_000 }, (_, i) => bigDevice(i));
/** A report at every limit of the protocol: 256 images of 512-character hostile names, and 200 labels. */
const worst = bigDevice(99_999);
worst.status!.report!.images = Array.from({ length: 256 }, (_, i) => ({
  repository: `${i}${evil.repeat(20)}`.slice(0, 512),
  digest: `sha256:${'c'.repeat(64)}`,
}));
for (let k = 0; k < 200; k++) worst.metadata.labels![`example.com/extra-${k}`] = 'y'.repeat(63);
const deviceListeners: Array<(name: string, device: Device | undefined) => void> = [];
let dashboard: FleetDashboard;
let server: Server;
let base: string;

before(async () => {
  dashboard = createFleetDashboard({
    client: {} as never,
    namespace: 'hub',
    log: createLogger({ level: 'silent' }),
    auth: { mode: 'none' },
    fleets: { get: (n) => (n === 'solar' ? fleet : undefined), list: () => [fleet], onEvent: () => undefined },
    devices: {
      get: (n) => (n === worst.metadata.name ? worst : devices.find((d) => d.metadata.name === n)),
      list: () => devices,
      onChange: (l) => deviceListeners.push(l),
      state: (d): DeviceState => (d.status?.report?.ready === 'True' ? 'ready' : 'failed'),
    },
    events: new RecentEvents({ record: async () => undefined }),
  });
  server = createServer((req, res) => {
    dashboard
      .handle(req, res, new URL(req.url ?? '/', 'http://x'))
      .then((handled) => {
        if (!handled) {
          res.writeHead(418);
          res.end('not the dashboard');
        }
      })
      .catch((error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  dashboard.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('fleet view routes', () => {
  it('claims its own paths only: never the device protocol, webhooks, health or metrics', async () => {
    for (const [method, path] of [
      ['GET', '/v1/fleets/solar/target'],
      ['POST', '/v1/enroll'],
      ['POST', '/hooks/github'],
      ['POST', '/hooks/registry'],
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/metrics'],
      ['GET', '/ui/nothing.css'],
      ['GET', '/pipelines/x'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      assert.equal(res.status, 418, `${method} ${path} was answered by the dashboard`);
    }
    assert.equal((await fetch(`${base}/`)).status, 200);
    assert.equal((await fetch(`${base}/api/fleets`)).status, 200);
    assert.equal((await fetch(`${base}/fleets/nope`)).status, 404);
    assert.equal((await fetch(`${base}/fleets/solar/devices/nope`)).status, 404);
    assert.equal((await fetch(`${base}${stylesheet.path}`)).status, 200);
  });

  it('a Fleet of 10,000 devices with the largest reports: the page and its assets stay under 150 KB', async () => {
    const started = performance.now();
    const res = await fetch(`${base}/fleets/solar`);
    const ms = performance.now() - started;
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.ok(!body.includes('<img'), 'a report became markup');
    assert.match(body, /Devices 1–50 of 10000\./);
    const total = Buffer.byteLength(body) + Buffer.byteLength(stylesheet.body) + Buffer.byteLength(script.body);
    assert.ok(total < 150 * 1024, `${total} bytes`);
    const api = await fetch(`${base}/api/fleets/solar?state=failed&offset=3300`);
    const json = (await api.json()) as { devicePage: { matching: number; rows: unknown[] } };
    assert.equal(json.devicePage.matching, 3334);
    assert.equal(json.devicePage.rows.length, 34);
    console.log(`fleet page of 10,000 devices: ${total} bytes with assets, rendered in ${ms.toFixed(0)} ms`);
  });

  it('a device page with a report at every limit stays under 150 KB with its assets', async () => {
    const res = await fetch(`${base}/fleets/solar/devices/${worst.metadata.name}`);
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.ok(!body.includes('<img'), 'a report became markup');
    assert.ok(body.includes('and 216 more'), 'the images left out are counted');
    const total = Buffer.byteLength(body) + Buffer.byteLength(stylesheet.body) + Buffer.byteLength(script.body);
    assert.ok(total < 150 * 1024, `${total} bytes`);
    console.log(`device page at every limit: ${total} bytes with assets`);
  });

  it('10,000 device changes are one event to an open page, not 10,000', async () => {
    const events: string[] = [];
    let response: IncomingMessage | undefined;
    const opened = new Promise<void>((resolve, reject) => {
      get(`${base}/events?topic=fleet:solar`, (res) => {
        response = res;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          for (const block of chunk.split('\n\n')) if (block.startsWith('event: update')) events.push(block);
        });
        resolve();
      }).on('error', reject);
    });
    await opened;
    const until = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (events.length < n && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.ok(events.length >= n, `${events.length} events`);
    };
    for (const d of devices) for (const listener of deviceListeners) listener(d.metadata.name, d);
    await until(1);
    // One more change, later: its event is the second one, so the 10,000 made exactly one.
    for (const listener of deviceListeners) listener(devices[0]!.metadata.name, devices[0]);
    await until(2);
    assert.equal(events.length, 2, events.join('\n'));
    assert.match(events[0]!, /"topics":\["fleet:solar"\]/);
    response?.destroy();
  });
});
