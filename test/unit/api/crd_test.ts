/**
 * The Pipeline CRD's schema against the zod schema it is generated from. A small validator
 * with the API server's rules for the keywords the schema uses (types, closed objects,
 * required, enum, pattern, lengths, defaults) runs a table of specs through both: where they
 * disagree, the table must say so (what only the controller can check), or the test fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { CrdSchemaError, openApiSchemaOf, pipelineCrd, pipelineSpecOpenApiSchema, type SchemaNode } from '../../../src/api/crd.js';
import { pipelineSpecSchema } from '../../../src/api/pipeline.js';
import { crdMatches, ensurePipelineCrd, sameSpec } from '../../../src/status/store.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import type { KubeObject } from '../../../src/render/types.js';

const spec = pipelineSpecOpenApiSchema();

/** Every node with its path: properties, array items and map values. */
function* nodes(node: SchemaNode, path: string): Generator<[string, SchemaNode]> {
  yield [path, node];
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, SchemaNode>)) yield* nodes(child, `${path}.${key}`);
  if (node.items) yield* nodes(node.items as SchemaNode, `${path}[]`);
  if (typeof node.additionalProperties === 'object') yield* nodes(node.additionalProperties as SchemaNode, `${path}.*`);
}

/** The API server's verdict on `value` (the problems it names), applying defaults in place as it does. */
function validate(node: SchemaNode, value: unknown, path: string, problems: string[]): unknown {
  if (node['x-kubernetes-preserve-unknown-fields'] && !node.type) return value;
  const type = node.type as string;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
  if (!(actual === type || (type === 'number' && actual === 'integer'))) {
    problems.push(`${path}: must be ${type}`);
    return value;
  }
  if (node.enum && !(node.enum as unknown[]).includes(value)) problems.push(`${path}: not one of ${(node.enum as unknown[]).join(', ')}`);
  if (typeof value === 'string') {
    if (node.pattern && !new RegExp(node.pattern as string, 'u').test(value)) problems.push(`${path}: does not match ${node.pattern}`);
    if (typeof node.minLength === 'number' && value.length < node.minLength) problems.push(`${path}: too short`);
    if (typeof node.maxLength === 'number' && value.length > node.maxLength) problems.push(`${path}: too long`);
  }
  if (Array.isArray(value)) return value.map((item, i) => validate(node.items as SchemaNode, item, `${path}[${i}]`, problems));
  if (type === 'object') {
    const object = { ...(value as Record<string, unknown>) };
    const properties = (node.properties ?? {}) as Record<string, SchemaNode>;
    for (const key of Object.keys(object)) {
      if (properties[key]) object[key] = validate(properties[key], object[key], `${path}.${key}`, problems);
      else if (node.additionalProperties) object[key] = validate(node.additionalProperties as SchemaNode, object[key], `${path}.${key}`, problems);
      else if (!node['x-kubernetes-preserve-unknown-fields']) problems.push(`${path}.${key}: unknown field`);
    }
    for (const [key, child] of Object.entries(properties)) {
      if (!(key in object) && 'default' in child) object[key] = validate(child, structuredClone(child.default), `${path}.${key}`, problems);
    }
    for (const key of (node.required ?? []) as string[]) if (!(key in object)) problems.push(`${path}.${key}: required`);
    return object;
  }
  return value;
}

function apiServer(value: unknown): { problems: string[]; stored: unknown } {
  const problems: string[] = [];
  const stored = validate(spec, value, 'spec', problems);
  return { problems, stored };
}

const url = 'https://git.example.com/acme/fleet.git';
const hub = { url: 'https://hub.example.com', fleet: 'solar', secretRef: { name: 'doris-hub' } };

/** Specs both accept. */
const valid: Array<[string, unknown]> = [
  ['the smallest git spec', { git: { url } }],
  ['every git field', { git: { url, branch: 'prod', path: 'clusters/a', secretRef: { name: 's' }, interval: '1h30m' } }],
  ['a hub instead of git', { hub }],
  ['image rules', { git: { url }, images: [{ repository: 'ghcr.io/acme/solar-*' }, { repository: 'ghcr.io/acme/x', tag: 'v1', interval: '30s' }] }],
  ['prune: false', { git: { url }, prune: false }],
  ['prune as an object', { git: { url }, prune: { enabled: true, allowMass: true } }],
  ['every policy', { git: { url }, wait: { timeout: '10m' }, suspend: true, replay: 'each-commit', targetNamespace: 'apps', serviceAccountName: 'team-a' }],
];

/** Specs both refuse. */
const refused: Array<[string, unknown, RegExp]> = [
  ['a misspelt field (spec.git.branh)', { git: { url, branh: 'main' } }, /spec\.git\.branh: unknown field/],
  ['an unknown top-level field', { git: { url }, intervall: '1m' }, /spec\.intervall: unknown field/],
  ['an unknown image rule field', { git: { url }, images: [{ repository: 'x', digest: 'sha256:1' }] }, /spec\.images\[0\]\.digest: unknown field/],
  ['a replay that is not in the enum', { git: { url }, replay: 'sometimes' }, /spec\.replay: not one of latest, each-commit/],
  ['a duration without a unit', { git: { url, interval: '10' } }, /spec\.git\.interval: does not match/],
  ['a git spec without url', { git: { branch: 'main' } }, /spec\.git\.url: required/],
  ['a number where a string belongs', { git: { url, branch: 5 } }, /spec\.git\.branch: must be string/],
  ['suspend as a string', { git: { url }, suspend: 'yes' }, /spec\.suspend: must be boolean/],
  ['an upper-case Fleet name', { hub: { ...hub, fleet: 'Solar' } }, /spec\.hub\.fleet: does not match/],
  ['an empty branch', { git: { url, branch: '' } }, /spec\.git\.branch: too short/],
];

/**
 * What only the controller refuses (reported as InvalidSpec in status): rules JSON Schema
 * cannot state, and the prune union, which the API server keeps as written.
 */
const controllerOnly: Array<[string, unknown]> = [
  ['a file:// repository', { git: { url: 'file:///etc' } }],
  ['a zero interval', { git: { url, interval: '0s' } }],
  ['neither git nor hub', {}],
  ['both git and hub', { git: { url }, hub }],
  ['images with a hub', { hub, images: [{ repository: 'x' }] }],
  ['a misspelt prune field', { git: { url }, prune: { enabled: true, alowMass: true } }],
  ['prune as a string', { git: { url }, prune: 'yes' }],
  ['plain http to a hub not on loopback', { hub: { ...hub, url: 'http://hub.example.com' } }],
];

describe('the Pipeline CRD schema', () => {
  it('is structural: a type (or kept-as-written) on every node, no $ref, unions or open objects by accident', () => {
    for (const [path, node] of nodes(spec, 'spec')) {
      for (const forbidden of ['$ref', '$schema', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'format', 'propertyNames']) {
        assert.ok(!(forbidden in node), `${path} has ${forbidden}`);
      }
      assert.notEqual(node.additionalProperties, false, `${path}: closed objects are closed by having no additionalProperties`);
      assert.ok(node.type || node['x-kubernetes-preserve-unknown-fields'] === true, `${path} has no type`);
      if (node.type === 'object' && node.properties) assert.ok(!node['x-kubernetes-preserve-unknown-fields'], `${path} keeps unknown fields`);
    }
  });

  it('describes every field (kubectl explain), also fields added later', () => {
    const missing = [...nodes(spec, 'spec')].filter(([path, node]) => !path.endsWith('[]') && !path.endsWith('.*') && !node.description).map(([p]) => p);
    assert.deepEqual(missing, [], 'add .describe("...") to these fields in src/api/pipeline.ts');
  });

  it('has every field of the zod schema, with its defaults and enums', () => {
    assert.deepEqual(Object.keys(spec.properties as object).sort(), Object.keys(pipelineSpecSchema.shape).sort());
    const props = spec.properties as Record<string, SchemaNode>;
    assert.equal((props.replay as SchemaNode).default, 'latest');
    assert.deepEqual((props.replay as SchemaNode).enum, ['latest', 'each-commit']);
    const git = (props.git as SchemaNode).properties as Record<string, SchemaNode>;
    assert.deepEqual(Object.keys(git).sort(), ['branch', 'interval', 'path', 'secretRef', 'url']);
    assert.equal(git.branch?.default, 'main');
    assert.deepEqual((props.git as SchemaNode).required, ['url']);
  });

  for (const [name, value] of valid) {
    it(`accepts ${name}, and its defaults are the controller's`, () => {
      const { problems, stored } = apiServer(value);
      assert.deepEqual(problems, []);
      assert.ok(pipelineSpecSchema.safeParse(value).success, 'the controller accepts it');
      // What the API server stores (with its defaults) means the same to the controller.
      assert.deepEqual(pipelineSpecSchema.parse(stored), pipelineSpecSchema.parse(value));
    });
  }

  for (const [name, value, problem] of refused) {
    it(`refuses ${name}, as the controller does`, () => {
      assert.match(apiServer(value).problems.join('\n'), problem);
      assert.ok(!pipelineSpecSchema.safeParse(value).success, 'the controller refuses it too');
    });
  }

  for (const [name, value] of controllerOnly) {
    it(`leaves ${name} to the controller`, () => {
      assert.deepEqual(apiServer(value).problems, [], 'the API server accepts it: move this case to the refused table');
      assert.ok(!pipelineSpecSchema.safeParse(value).success, 'the controller refuses it');
    });
  }

  it('keeps status as the controller writes it, described', () => {
    const root = (pipelineCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: SchemaNode } }> } }).spec.versions[0]!.schema.openAPIV3Schema;
    const status = (root.properties as Record<string, SchemaNode>).status!;
    assert.equal(status['x-kubernetes-preserve-unknown-fields'], true);
    assert.ok(status.description);
  });
});

describe('openApiSchemaOf (fields added later)', () => {
  it('turns nullable, records and literals into their structural forms', () => {
    const schema = openApiSchemaOf(
      z.strictObject({
        a: z.string().nullable().describe('a'),
        labels: z.record(z.string(), z.string()).describe('labels'),
        mode: z.literal('fast').describe('mode'),
        count: z.number().int().positive().describe('count'),
        anything: z.unknown().describe('anything'),
      }),
    );
    const props = schema.properties as Record<string, SchemaNode>;
    assert.deepEqual(props.a, { type: 'string', description: 'a', nullable: true });
    assert.deepEqual(props.labels, { type: 'object', description: 'labels', additionalProperties: { type: 'string' } });
    assert.deepEqual(props.mode, { type: 'string', description: 'mode', enum: ['fast'] });
    assert.equal(props.count?.minimum, 0);
    assert.equal(props.count?.exclusiveMinimum, true);
    assert.deepEqual(props.anything, { description: 'anything', 'x-kubernetes-preserve-unknown-fields': true });
  });

  it('names the field that has no structural form', () => {
    const intersection = z.strictObject({ both: z.intersection(z.string(), z.object({ b: z.string() })) });
    assert.throws(
      () => openApiSchemaOf(intersection, 'spec'),
      (e: unknown) => e instanceof CrdSchemaError && /spec\.both: allOf/.test(e.message),
    );
    assert.throws(() => openApiSchemaOf(z.strictObject({ pair: z.tuple([z.string(), z.number()]) }), 'spec'), /spec\.pair: an array without one items schema/);
  });
});

describe('crdMatches', () => {
  const crd = pipelineCrd() as unknown as KubeObject;
  it('is true for the same definition as the API server returns it', () => {
    const served = { ...structuredClone(crd), metadata: { ...crd.metadata, uid: 'u', resourceVersion: '7' }, status: { conditions: [] } } as KubeObject;
    assert.ok(crdMatches(served, crd));
  });
  it('is false for the open schema an older version installed', () => {
    const older = structuredClone(crd) as unknown as { spec: { versions: Array<{ schema: unknown }> } };
    older.spec.versions[0]!.schema = {
      openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
    };
    assert.ok(!crdMatches(older as unknown as KubeObject, crd));
  });
});

describe('ensurePipelineCrd', () => {
  const established = (crd: unknown) =>
    ({
      ...(crd as object),
      status: {
        conditions: [
          { type: 'Established', status: 'True' },
          { type: 'NamesAccepted', status: 'True' },
        ],
      },
    }) as unknown as KubeObject;
  const older = () => {
    const crd = structuredClone(pipelineCrd()) as unknown as { spec: { versions: Array<{ schema: unknown }> } };
    crd.spec.versions[0]!.schema = { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };
    return established(crd);
  };
  function client(installed: KubeObject | undefined, refuse?: number): { client: KubeClient; applied: KubeObject[] } {
    const applied: KubeObject[] = [];
    const fake = {
      get: async () => installed,
      apply: async (object: KubeObject) => {
        if (refuse) throw new KubeApiError('PATCH', '/crd', refuse, { reason: 'Forbidden', message: 'no' }, '');
        applied.push(object);
        installed = established(object);
        return { object: installed, created: false };
      },
      discovery: { invalidate: () => undefined },
    } as unknown as KubeClient;
    return { client: fake, applied };
  }

  it('installs a missing CRD', async () => {
    const { client: c, applied } = client(undefined);
    await ensurePipelineCrd(c);
    assert.equal(applied.length, 1);
  });
  it('updates a CRD an older version installed', async () => {
    const { client: c, applied } = client(older());
    await ensurePipelineCrd(c);
    assert.ok(crdMatches(applied[0] as KubeObject, pipelineCrd() as KubeObject));
  });
  it('leaves a CRD that matches alone', async () => {
    const { client: c, applied } = client(established(pipelineCrd()));
    await ensurePipelineCrd(c);
    assert.deepEqual(applied, []);
  });
  it('works with the installed CRD when it may not update it, and fails on other errors', async () => {
    await ensurePipelineCrd(client(older(), 403).client);
    await assert.rejects(ensurePipelineCrd(client(older(), 500).client), /500/);
    await assert.rejects(ensurePipelineCrd(client(undefined, 403).client), /403/);
  });
});

describe('sameSpec', () => {
  it('sees a spec as stored by the API server (defaults filled in) as the spec written', () => {
    for (const [, value] of valid) assert.ok(sameSpec(apiServer(value).stored, value));
  });
  it('sees a changed field, a missing Pipeline and an invalid stored spec as different', () => {
    const wanted = { git: { url, branch: 'prod' } };
    assert.ok(!sameSpec(apiServer({ git: { url } }).stored, wanted));
    assert.ok(!sameSpec(undefined, wanted));
    assert.ok(!sameSpec({ git: { url: 'file:///x' } }, wanted));
  });
});
