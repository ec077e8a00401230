/**
 * The Pipeline CustomResourceDefinition. Its `spec` schema is generated from the zod schema
 * the controller validates with (api/pipeline.ts), so the two cannot drift: a field added
 * there appears here, with its description (`kubectl explain`), default and enum.
 *
 * Kubernetes wants a *structural* schema (a type on every node, no `$ref`, no types inside
 * `anyOf`), so zod's JSON Schema is rewritten into one. Objects are closed: an unknown field
 * is pruned by the API server, and refused where the client asks for strict field validation,
 * which `kubectl apply` does by default (so `spec.git.branh` fails instead of vanishing).
 * A union of differently typed values (`prune: true` or `prune: {enabled: …}`) cannot be
 * structural: it keeps its value as written, and only the controller checks it.
 * What JSON Schema cannot say (a URL's scheme, a duration above zero, git xor hub) is
 * checked by the controller, which reports it in status (InvalidSpec).
 *
 * `status` is written only by the controller; it is kept as written, described at the top
 * level only, so that a newer controller may add status fields without a CRD change.
 */
import { z } from 'zod';
import { group, kind, pipelineSpecSchema, plural, version } from './pipeline.js';

export const pipelineCrdName = `${plural}.${group}`;

/** A JSON Schema / OpenAPI v3 node, as plain data. */
export type SchemaNode = Record<string, unknown>;

/** A schema zod's generator gave that no structural rewrite exists for. */
export class CrdSchemaError extends Error {
  readonly code = 'CrdSchemaError';
  constructor(path: string, message: string) {
    super(`Pipeline CRD schema at ${path || '<root>'}: ${message}`);
    this.name = 'CrdSchemaError';
  }
}

/** Keywords copied as they are: Kubernetes understands them with the same meaning. */
const copied = ['description', 'default', 'enum', 'pattern', 'minLength', 'maxLength', 'minItems', 'maxItems', 'minimum', 'maximum', 'nullable'] as const;

function resolveRef(root: SchemaNode, ref: string, path: string): SchemaNode {
  if (!ref.startsWith('#')) throw new CrdSchemaError(path, `external $ref ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) node = (node as SchemaNode)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  if (typeof node !== 'object' || node === null) throw new CrdSchemaError(path, `unresolved $ref ${ref}`);
  return node as SchemaNode;
}

/**
 * A union of values of different types: kept as written (`x-kubernetes-preserve-unknown-fields`).
 * The API server can check nothing here (CEL cannot see an untyped field, not even from its
 * parent); the controller's own validation refuses a wrong value with InvalidSpec.
 */
function untypedUnion(outer: SchemaNode): SchemaNode {
  return { ...(outer.description ? { description: outer.description } : {}), 'x-kubernetes-preserve-unknown-fields': true };
}

/** Rewrites one node of zod's JSON Schema into a structural Kubernetes schema node. */
function structural(root: SchemaNode, input: SchemaNode, path: string): SchemaNode {
  let node = input;
  if (typeof node.$ref === 'string') node = { ...resolveRef(root, node.$ref, path), ...Object.fromEntries(Object.entries(node).filter(([k]) => k !== '$ref')) };

  const union = (node.anyOf ?? node.oneOf) as SchemaNode[] | undefined;
  if (union) {
    const branches = union.map((b) => (typeof b.$ref === 'string' ? resolveRef(root, b.$ref, path) : b));
    const nonNull = branches.filter((b) => b.type !== 'null');
    if (nonNull.length === 1) {
      const { anyOf: _a, oneOf: _o, ...outer } = node;
      return { ...structural(root, { ...nonNull[0], ...outer }, path), ...(nonNull.length < branches.length ? { nullable: true } : {}) };
    }
    for (const branch of nonNull) if (!branch.type) throw new CrdSchemaError(path, 'a union branch without a type');
    return untypedUnion(node);
  }
  if (node.allOf) throw new CrdSchemaError(path, 'allOf (an intersection) has no structural form');

  const out: SchemaNode = {};
  let type = node.type as string | string[] | undefined;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length !== 1) throw new CrdSchemaError(path, `several types ${type.join(', ')}`);
    if (nonNull.length < type.length) out.nullable = true;
    type = nonNull[0];
  }
  if ('const' in node) {
    out.enum = [node.const];
    type ??= typeof node.const === 'number' ? 'number' : (typeof node.const as string);
  }
  if (!type) {
    // z.unknown() / z.any(): anything, kept as written.
    if (node.description) out.description = node.description;
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  }
  out.type = type;
  for (const key of copied) if (key in node) out[key] = node[key];
  // JSON Schema 2020-12 states exclusive bounds as numbers; OpenAPI v3.0 as flags.
  if (typeof node.exclusiveMinimum === 'number') Object.assign(out, { minimum: node.exclusiveMinimum, exclusiveMinimum: true });
  if (typeof node.exclusiveMaximum === 'number') Object.assign(out, { maximum: node.exclusiveMaximum, exclusiveMaximum: true });
  if (type === 'integer' && typeof out.minimum === 'number' && out.minimum < Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (type === 'integer' && typeof out.maximum === 'number' && out.maximum > Number.MAX_SAFE_INTEGER) delete out.maximum;

  if (type === 'object') {
    const properties = node.properties as Record<string, SchemaNode> | undefined;
    if (properties) {
      out.properties = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, structural(root, child, `${path}.${key}`)]));
      const required = (node.required as string[] | undefined)?.filter((k) => k in properties);
      if (required && required.length > 0) out.required = required;
    }
    const extra = node.additionalProperties;
    // A record (z.record): its values' schema. A closed object needs nothing: unknown fields
    // are not in the schema, so the API server prunes or (strict validation) refuses them.
    if (typeof extra === 'object' && extra !== null && !properties) out.additionalProperties = structural(root, extra as SchemaNode, `${path}.*`);
    else if (!properties && extra !== false) out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (type === 'array') {
    if (!node.items || Array.isArray(node.items)) throw new CrdSchemaError(path, 'an array without one items schema (a tuple?)');
    out.items = structural(root, node.items as SchemaNode, `${path}[]`);
  }
  return out;
}

/** The structural schema of a zod schema (JSON Schema of what it accepts as input). */
export function openApiSchemaOf(schema: z.ZodType, path = ''): SchemaNode {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
  return structural(json, json, path);
}

/** The structural schema of `spec`, generated from the zod schema. */
export function pipelineSpecOpenApiSchema(): SchemaNode {
  return {
    ...openApiSchemaOf(pipelineSpecSchema, 'spec'),
    description: 'What the Pipeline follows (spec.git or spec.hub), the images it pins, and how it applies, waits and prunes.',
  };
}

const statusSchema: SchemaNode = {
  type: 'object',
  description:
    'Written by the controller: conditions (Ready, Reconciling, Stalled) with reason codes and observedGeneration, lastAppliedCommit, lastAttemptedCommit, tracked image digests, the inventory of applied objects and a bounded history of syncs.',
  'x-kubernetes-preserve-unknown-fields': true,
};

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
              description: 'A Pipeline: one git source (or fleet hub), image rules and policies; DORIS applies its commits wave by wave.',
              properties: {
                apiVersion: { type: 'string', description: 'doris.dev/v1alpha1' },
                kind: { type: 'string', description: 'Pipeline' },
                metadata: { type: 'object' },
                spec: pipelineSpecOpenApiSchema(),
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}
