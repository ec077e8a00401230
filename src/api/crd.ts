/**
 * The Pipeline CustomResourceDefinition, as DORIS installs it when it is missing. The
 * schema keeps spec and status open (`x-kubernetes-preserve-unknown-fields`) because the
 * controller validates specs itself (api/pipeline.ts) and reports errors in status, where
 * a user sees them, rather than having the API server refuse a Pipeline with a terse message.
 */
import { group, kind, plural, version } from './pipeline.js';

export const pipelineCrdName = `${plural}.${group}`;

export function pipelineCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: pipelineCrdName, labels: { 'app.kubernetes.io/part-of': 'doris' } },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: 'pipeline', listKind: `${kind}List`, shortNames: ['pl'] },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Commit', type: 'string', jsonPath: '.status.lastAppliedCommit' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Reason', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}
