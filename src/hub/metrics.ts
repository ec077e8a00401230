/**
 * The hub's Prometheus metrics, in a registry of its own (a hub is not a controller: none of
 * the sync metrics apply). Devices by state are counted when scraped, from the Device cache.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeviceState } from './devices.js';

export class HubMetrics {
  readonly registry = new Registry();
  private deviceStates: (() => Record<DeviceState, number>) | undefined;
  readonly devices: Gauge<'state'> = new Gauge({
    name: 'doris_hub_devices',
    help: 'Enrolled devices, by state (ready, failed, offline, unknown).',
    labelNames: ['state'] as const,
    registers: [this.registry],
    // Every state is set at each scrape, so that a state that emptied reads 0.
    collect: () => {
      for (const [state, n] of Object.entries(this.deviceStates?.() ?? {})) this.devices.set({ state }, n);
    },
  });
  readonly reports = new Counter({
    name: 'doris_hub_reports_total',
    help: 'Device reports, by outcome (changed: written; unchanged: not written; refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly longPolls = new Counter({
    name: 'doris_hub_target_polls_total',
    help: 'Target requests answered, by outcome (changed: a target sent; unchanged: 304; refused; closed: shutdown or client gone).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly openLongPolls = new Gauge({
    name: 'doris_hub_open_long_polls',
    help: 'Target long-polls held open now.',
    registers: [this.registry],
  });
  readonly upstreamRequests = new Counter({
    name: 'doris_hub_upstream_requests_total',
    help: 'Requests to upstream sources made by the leader, by source (git, registry) and result (changed, unchanged, error).',
    labelNames: ['source', 'result'] as const,
    registers: [this.registry],
  });
  readonly bundleBytes = new Counter({
    name: 'doris_hub_bundle_bytes_served_total',
    help: 'Bundle bytes sent to devices.',
    registers: [this.registry],
  });
  readonly bundleRequests = new Counter({
    name: 'doris_hub_bundle_requests_total',
    help: 'Bundle requests, by outcome (sent, not-modified, refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly enrollments = new Counter({
    name: 'doris_hub_enrollments_total',
    help: 'Enrollment requests, by outcome (enrolled, refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'doris_hub_webhooks_total',
    help: 'Webhook requests, by hook (github, registry) and outcome.',
    labelNames: ['hook', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'doris_hub_leader',
    help: '1 while this replica holds the hub leader Lease (and polls upstream).',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'doris_hub_' });
  }

  /** Counts devices by state at each scrape. */
  countDevicesWith(deviceStates: () => Record<DeviceState, number>): void {
    this.deviceStates = deviceStates;
  }
}
