/**
 * The hub's CustomResourceDefinitions: `Fleet` and `Device` (`hub.doris.dev/v1alpha1`).
 *
 * Unlike the Pipeline's, these schemas are structural and complete: Fleets are written by
 * people with kubectl and Devices by the hub, and the API server refusing a typo'd field
 * (`kubectl apply` names it) is the clearest error either can get. Sizes are bounded here
 * too, so that a hand-written Device cannot make the hub's watch cache grow without bound.
 * Only `status.rollout` stays open (its shape belongs to the rollout issue).
 *
 * `doris hub` applies both at start (server-side apply, so an upgrade updates them) and waits
 * until they are Established.
 */
import { hubGroup, hubVersion } from '../api/hub.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';

export const fleetCrdName = `fleets.${hubGroup}`;
export const deviceCrdName = `devices.${hubGroup}`;

const partOf = { 'app.kubernetes.io/part-of': 'doris', 'app.kubernetes.io/component': 'hub' };

const str = (maxLength: number, extra: Record<string, unknown> = {}) => ({ type: 'string', maxLength, ...extra });
const duration = str(32, { pattern: '^([0-9]+(ms|s|m|h))+$' });
const secretRef = { type: 'object', required: ['name'], properties: { name: str(253) } };
// A count or `N%`: the structural form allows no constraint beside the marker; the rollout code checks the value.
const intOrString = { 'x-kubernetes-int-or-string': true };
const time = { type: 'string', format: 'date-time' };
const digest = str(71, { pattern: '^sha256:[0-9a-f]{64}$' });

const imageStatus = {
  type: 'object',
  properties: {
    rule: str(1024),
    repository: str(512),
    tag: str(128),
    digest,
    namePrefix: str(253),
    updatedAt: time,
    error: str(2048),
  },
};

const revision = {
  type: 'object',
  required: ['id', 'commit', 'bundle'],
  properties: {
    id: str(64),
    commit: str(64),
    bundle: digest,
    bundleSize: { type: 'integer', minimum: 0 },
    images: { type: 'array', maxItems: 256, items: imageStatus },
    createdAt: time,
  },
};

const labelSelector = {
  type: 'object',
  properties: {
    matchLabels: { type: 'object', additionalProperties: str(63), maxProperties: 64 },
    matchExpressions: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: str(317),
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', maxItems: 64, items: str(63) },
        },
      },
    },
  },
};

const fleetSpec = {
  type: 'object',
  required: ['git'],
  properties: {
    git: {
      type: 'object',
      required: ['url'],
      properties: { url: str(2048), branch: str(255), path: str(1024), secretRef, interval: duration },
    },
    images: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        required: ['repository'],
        properties: { repository: str(512), tag: str(128), secretRef, interval: duration },
      },
    },
    rollout: {
      type: 'object',
      properties: {
        stages: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            required: ['name', 'selector'],
            properties: {
              name: str(63, { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
              selector: labelSelector,
              /** Percent of the stage's devices Ready on the revision (a count or `90%`). */
              minReady: intOrString,
              maxFailures: intOrString,
              soak: duration,
            },
          },
        },
        autoRollback: { type: 'boolean' },
      },
    },
    notify: {
      type: 'array',
      maxItems: 20,
      description:
        "Receivers told when a rollout halts, rolls back, is aborted, or completes a revision The same shape as a Pipeline's spec.notify; Secrets are in the hub namespace.",
      items: {
        type: 'object',
        required: ['type'],
        properties: {
          type: {
            type: 'string',
            enum: ['generic', 'slack', 'github'],
            description: 'generic (signed JSON webhook), slack (incoming webhook) or github (commit status).',
          },
          url: str(2048, {
            description:
              'generic: where the JSON is POSTed; slack: the incoming-webhook URL (or key "address" of the Secret); github: the repository (default: spec.git.url).',
          }),
          secretRef: {
            ...secretRef,
            description:
              'A Secret in the hub namespace. generic: key "secret" (the HMAC-SHA256 key of X-Doris-Signature); github: key "token"; slack: optional key "address".',
          },
          apiUrl: str(2048, { description: 'github: the API root (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).' }),
          targetUrl: str(2048, { description: 'github: the link shown beside the commit status.' }),
        },
      },
    },
  },
};

const condition = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: str(64),
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: str(64),
    message: str(4096),
    lastTransitionTime: time,
  },
};

const fleetStatus = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer' },
    conditions: { type: 'array', maxItems: 8, items: condition },
    revision,
    revisions: { type: 'array', maxItems: 16, items: revision },
    lastPolled: time,
    devices: {
      type: 'object',
      properties: Object.fromEntries(['total', 'ready', 'failed', 'offline', 'onRevision'].map((k) => [k, { type: 'integer', minimum: 0 }])),
    },
    rollout: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  },
};

const count = { type: 'integer', minimum: 0 };

const deviceReport = {
  type: 'object',
  required: ['ready', 'reason', 'message', 'agentVersion'],
  properties: {
    revision: str(64),
    commit: str(64),
    ready: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: str(64),
    message: str(2048),
    counts: { type: 'object', properties: Object.fromEntries(['created', 'configured', 'unchanged', 'recreated', 'pruned'].map((k) => [k, count])) },
    images: {
      type: 'array',
      maxItems: 256,
      items: { type: 'object', required: ['repository', 'digest'], properties: { repository: str(512), digest } },
    },
    agentVersion: str(64),
  },
};

function crd(kind: string, plural: string, shortNames: string[], columns: unknown[], spec: unknown, status: unknown): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${hubGroup}`, labels: partOf },
    spec: {
      group: hubGroup,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, shortNames, categories: ['doris'] },
      versions: [
        {
          name: hubVersion,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: { type: 'object', required: ['spec'], properties: { spec, status } } },
        },
      ],
    },
  };
}

export function fleetCrd(): KubeObject {
  return crd(
    'Fleet',
    'fleets',
    ['fl'],
    [
      { name: 'Revision', type: 'string', jsonPath: '.status.revision.id' },
      { name: 'Commit', type: 'string', jsonPath: '.status.revision.commit' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'State', type: 'string', jsonPath: '.status.rollout.state' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      { name: 'Devices', type: 'integer', priority: 1, jsonPath: '.status.devices.total' },
      { name: 'Devices-Ready', type: 'integer', priority: 1, jsonPath: '.status.devices.ready' },
      { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
    ],
    fleetSpec,
    fleetStatus,
  );
}

export function deviceCrd(): KubeObject {
  return crd(
    'Device',
    'devices',
    ['dev'],
    [
      { name: 'Fleet', type: 'string', jsonPath: '.spec.fleet' },
      { name: 'Ready', type: 'string', jsonPath: '.status.report.ready' },
      { name: 'Commit', type: 'string', jsonPath: '.status.report.commit' },
      { name: 'Stage', type: 'string', jsonPath: '.status.stage' },
      { name: 'Connected', type: 'boolean', jsonPath: '.status.connected' },
      { name: 'Last-Seen', type: 'date', jsonPath: '.status.lastSeen' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      { name: 'Revision', type: 'string', priority: 1, jsonPath: '.status.report.revision' },
      { name: 'Reason', type: 'string', priority: 1, jsonPath: '.status.report.reason' },
      { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.report.message' },
    ],
    {
      type: 'object',
      required: ['fleet', 'tokenHash'],
      properties: { fleet: str(63), tokenHash: digest },
    },
    {
      type: 'object',
      properties: {
        report: deviceReport,
        reportedAt: time,
        history: {
          type: 'array',
          maxItems: 10,
          description: 'The last reports that changed the state (revision, Ready, reason), newest first.',
          items: {
            type: 'object',
            required: ['at', 'ready', 'reason'],
            properties: { at: time, revision: str(64), commit: str(64), ready: str(16), reason: str(64) },
          },
        },
        lastSeen: time,
        connected: { type: 'boolean' },
        servedBy: str(253),
        servedRevision: str(64),
        stage: str(63),
      },
    },
  );
}

/** Whether a CRD as read from the API server is Established (its kind is being served). */
export function isEstablished(crd: KubeObject | undefined): boolean {
  const conditions = (crd as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined)?.status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Established' && c.status === 'True');
}

/** Applies both CRDs (server-side apply: creates or updates them) and waits until both are Established. */
export async function ensureHubCrds(client: KubeClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const definition of [fleetCrd(), deviceCrd()]) {
    let current: KubeObject | undefined = (await client.apply(definition, { manager: 'doris-hub' })).object;
    const key = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: definition.metadata.name };
    while (!isEstablished(current)) {
      if (Date.now() > deadline) throw new Error(`CRD ${definition.metadata.name} not Established after ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      current = await client.get(key);
    }
  }
  client.discovery.invalidate(`${hubGroup}/${hubVersion}`);
}
