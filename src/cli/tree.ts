/**
 * `doris tree NAME`: what a Pipeline applied, by wave and step, each object with its live
 * health (the same kstatus rules the sync waits on). The objects are the Pipeline's
 * inventory; which step and file each came from is read from the applied commit, rendered
 * again (when the repository cannot be read, objects are listed by wave only).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePipelineSpec, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import { computeHealth, type HealthResult } from '../health/index.js';
import { readInventory } from '../inventory/archive.js';
import { HttpKubeClient, type KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import { groupOf, objectId, parseObjectId, type ObjectRef } from '../kube/objectid.js';
import { gitSourceFor } from '../reconcile/desired.js';
import { renderRepo } from '../render/layout.js';
import { printable } from '../render/problems.js';
import type { DesiredObject } from '../render/types.js';
import { gitCredentialsFromFlags, gitCredentialsFromSecret } from '../source/credentials.js';
import { out, printResult, say, withPipeline, type GlobalOptions } from './common.js';

export interface TreeObject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  health: HealthResult;
  source?: string;
}

export interface TreeWave {
  wave: number;
  name?: string;
  steps: Array<{ step?: number; objects: TreeObject[] }>;
}

/** Where each applied object came from in the commit: its step, wave name and file. */
async function renderedSources(
  client: KubeClient,
  pipeline: Pipeline,
  spec: PipelineSpec,
  commit: string,
  workDir: string,
): Promise<Map<string, DesiredObject>> {
  const namespace = pipeline.metadata.namespace;
  const credentials = spec.git?.secretRef ? await gitCredentialsFromSecret(client, namespace, spec.git.secretRef.name) : gitCredentialsFromFlags();
  const source = gitSourceFor(spec, credentials, workDir);
  await source.fetchCommit(commit);
  const checkout = await source.checkout(commit, join(workDir, 'checkouts'));
  try {
    const { waves } = await renderRepo(checkout, source.path, { defaultNamespace: spec.targetNamespace ?? 'default' });
    const found = new Map<string, DesiredObject>();
    for (const object of waves.flatMap((w) => w.steps.flatMap((s) => s.objects))) {
      found.set(objectId(object.object), object);
      // A stray namespace on a cluster-scoped custom kind is dropped when applied: match by name too.
      found.set(`_${object.object.metadata.name}_${groupOf(object.object.apiVersion)}_${object.object.kind}`, object);
    }
    return found;
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
}

/** The preferred version of an API group (the inventory keeps groups, not versions). */
async function preferredVersion(client: KubeClient, group: string, cache: Map<string, Promise<string | undefined>>): Promise<string | undefined> {
  if (group === '') return 'v1';
  let known = cache.get(group);
  if (!known) {
    known =
      client instanceof HttpKubeClient
        ? client.http
            .request<{ preferredVersion?: { groupVersion?: string } }>('GET', `/apis/${encodeURIComponent(group)}`, { accept: [404] })
            .then((res) => (res.status === 404 ? undefined : res.body.preferredVersion?.groupVersion))
        : Promise.resolve(undefined);
    cache.set(group, known);
  }
  return known;
}

async function liveHealth(client: KubeClient, apiVersion: string | undefined, ref: ObjectRef): Promise<HealthResult> {
  if (!apiVersion) return { status: 'Unknown', message: `the API group ${ref.group} is not served` };
  try {
    const live = await client.get({ apiVersion, kind: ref.kind, namespace: ref.namespace || undefined, name: ref.name });
    return live ? computeHealth(live) : { status: 'NotFound', message: 'not in the cluster' };
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403) return { status: 'Unknown', message: 'not allowed to read it' };
    return { status: 'Unknown', message: (error as Error).message };
  }
}

export async function pipelineTree(client: KubeClient, pipeline: Pipeline, workDir: string, readSources: boolean): Promise<TreeWave[]> {
  const inventory = readInventory(pipeline.status);
  let sources = new Map<string, DesiredObject>();
  const commit = pipeline.status?.lastAppliedCommit;
  if (readSources && commit && inventory.length > 0) {
    try {
      sources = await renderedSources(client, pipeline, parsePipelineSpec(pipeline.spec), commit, workDir);
    } catch (error) {
      say(`steps unknown (the applied commit could not be read: ${(error as Error).message})`);
    }
  }
  const versions = new Map<string, Promise<string | undefined>>();
  const objects = await Promise.all(
    inventory.map(async (entry) => {
      const ref = parseObjectId(entry.id) ?? { namespace: '', name: entry.id, group: '', kind: '?' };
      const desired = sources.get(entry.id) ?? sources.get(`_${ref.name}_${ref.group}_${ref.kind}`);
      const apiVersion = desired?.object.apiVersion ?? (await preferredVersion(client, ref.group, versions));
      const object: TreeObject = {
        apiVersion: apiVersion ?? ref.group,
        kind: ref.kind,
        ...(ref.namespace ? { namespace: ref.namespace } : {}),
        name: ref.name,
        health: await liveHealth(client, apiVersion, ref),
        ...(desired ? { source: `${printable(desired.source.file)}:${desired.source.line}:${desired.source.col}` } : {}),
      };
      return { wave: entry.wave, waveName: desired?.waveName, step: desired?.step, object };
    }),
  );
  const waves = new Map<number, TreeWave>();
  for (const o of objects.sort((a, b) => a.wave - b.wave || (a.step ?? 0) - (b.step ?? 0))) {
    const wave = waves.get(o.wave) ?? { wave: o.wave, ...(o.waveName ? { name: o.waveName } : {}), steps: [] };
    waves.set(o.wave, wave);
    const step = wave.steps.find((s) => s.step === o.step) ?? { ...(o.step !== undefined ? { step: o.step } : {}), objects: [] };
    if (!wave.steps.includes(step)) wave.steps.push(step);
    step.objects.push(o.object);
  }
  return [...waves.values()];
}

export function formatTree(pipeline: Pipeline, waves: TreeWave[]): string[] {
  const ready = pipeline.status?.conditions?.find((c) => c.type === 'Ready');
  const lines = [
    `Pipeline ${pipeline.metadata.namespace}/${pipeline.metadata.name}  commit ${(pipeline.status?.lastAppliedCommit ?? '-').slice(0, 12)}  Ready=${ready?.status ?? 'Unknown'}${ready?.reason ? ` ${ready.reason}` : ''}`,
  ];
  if (waves.length === 0) lines.push('  (nothing applied yet)');
  for (const wave of waves) {
    lines.push(`├─ wave ${wave.name ?? wave.wave}`);
    for (const step of wave.steps) {
      lines.push(`│  ├─ ${step.step !== undefined ? `step ${step.step}` : 'step ?'}`);
      for (const o of step.objects) {
        const name = `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
        lines.push(`│  │  ├─ ${name}  ${o.health.status}${o.health.message ? `: ${o.health.message}` : ''}`);
      }
    }
  }
  return lines;
}

export function treeCommand(global: () => GlobalOptions): Command {
  return new Command('tree')
    .description('show what a Pipeline applied, by wave and step, with each object’s live health')
    .argument('<name>', 'the Pipeline')
    .option('--no-source', 'do not read the applied commit from git (objects by wave only, no steps)')
    .action(async (name: string, flags: { source: boolean }) => {
      const options = global();
      await withPipeline(options, name, async (pipeline, client) => {
        const waves = await pipelineTree(client, pipeline, options.workDir, flags.source);
        printResult(options, { name, namespace: options.namespace, commit: pipeline.status?.lastAppliedCommit ?? '', waves }, () => {
          for (const line of formatTree(pipeline, waves)) out(line);
        });
      });
    });
}
