/**
 * `doris sync --once`: one reconcile of one Pipeline, then exit (0 synced, 1 failed,
 * 2 usage). The CronJob mode of the original DORIS, and the way to try a repo by hand.
 */
import { Command } from 'commander';
import { kind as pipelineKind, apiVersion as pipelineApiVersion } from '../api/pipeline.js';
import { Reasons } from '../api/reasons.js';
import type { ProgressEvent } from '../reconcile/progress.js';
import { reconcilePipeline } from '../reconcile/sync.js';
import { formatProblems } from '../render/validate.js';
import { applyPipeline, ensurePipelineCrd, getPipeline, sameSpec } from '../status/store.js';
import { ExitCode, connect, printData, say, type GlobalOptions } from './common.js';
import { registryCredentialsResolver } from '../source/credentials.js';
import { ImageTracker } from '../source/images.js';
import { createLogger } from '../log.js';
import { EventRecorder } from '../status/events.js';
import { recordOutcomeEvent, recordProgressEvents } from '../reconcile/sync-events.js';
import { addTargetOptions, resolveTarget, type TargetFlags } from './target.js';
import type { ImageChange } from '../api/pipeline.js';
import { Notifier, clusterName } from '../notify/dispatcher.js';

/** How long `doris sync --once` waits for its notifications to be delivered before it exits. */
const notifyWaitMs = 5000;

export function printProgress(event: ProgressEvent): void {
  switch (event.type) {
    case 'commit':
      say(`commit ${event.commit.slice(0, 12)}`);
      break;
    case 'problem':
      say(formatProblems([event.problem]));
      break;
    case 'notice':
      say(`note: ${event.message}`);
      break;
    case 'images':
      for (const c of event.changes) say(`image ${c.repository}:${c.tag}: ${c.from ? `${c.from.slice(0, 19)} -> ` : ''}${c.to}`);
      for (const e of event.errors)
        say(event.unresolved.includes(e) ? `image error (no digest known yet: applied unpinned, as written): ${e}` : `image error (last digest kept): ${e}`);
      break;
    case 'applied': {
      const c = event.counts;
      say(`${event.label}: ${c.created} created, ${c.configured} configured, ${c.recreated} recreated, ${c.unchanged} unchanged`);
      break;
    }
    case 'healthy':
      say(`${event.label}: ${event.objects} objects healthy (${(event.ms / 1000).toFixed(1)} s)`);
      break;
    case 'waiting':
      // One line per wait is enough: the first pending object says what is slow.
      break;
    case 'pruning':
      say(`pruning ${event.objects} objects`);
      break;
    case 'pruned':
      for (const s of event.result.skipped) say(`  kept ${s.entry.id}: ${s.reason}`);
      say(`pruned ${event.result.pruned.length}, kept ${event.result.skipped.length}, failed ${event.result.failed.length}`);
      break;
    case 'stage':
      break;
  }
}

export function syncCommand(global: () => GlobalOptions): Command {
  const command = new Command('sync')
    .description('reconcile one Pipeline once: fetch, render, apply wave by wave, wait for health, prune; then exit')
    .option('--once', 'run one reconcile and exit (the only mode; `doris run` is the controller)', true)
    .option('--kustomize-path <file>', 'the kustomize executable for kustomize folders (default: kustomize on PATH, or DORIS_KUSTOMIZE_PATH)')
    .option('--sops-path <file>', 'the sops executable for SOPS-encrypted files (default: sops on PATH, or DORIS_SOPS_PATH)');
  addTargetOptions(command);
  command.addHelpText(
    'after',
    `
Exit codes: 0 synced, 1 the sync failed (status says why), 2 usage error.

Examples:
  doris sync --once --pipeline edge
  doris sync --once --repo https://github.com/acme/fleet.git --branch main --path deploy --name edge \\
             --git-username bot --git-token-file /run/secrets/token`,
  );
  command.action(async (flags: TargetFlags & { kustomizePath?: string; sopsPath?: string }) => {
    const options = global();
    // The render finds its tools through the environment (src/render/kustomize.ts, sops.ts).
    if (flags.kustomizePath) process.env.DORIS_KUSTOMIZE_PATH = flags.kustomizePath;
    if (flags.sopsPath) process.env.DORIS_SOPS_PATH = flags.sopsPath;
    const client = await connect(options);
    try {
      await ensurePipelineCrd(client);
      const target = await resolveTarget(client, options.namespace, flags);
      // An inline Pipeline is created or updated only when it differs: a resync writes nothing.
      if (target.rawSpec && !sameSpec(target.existing?.spec, target.rawSpec)) {
        if (!(await client.get({ apiVersion: 'v1', kind: 'Namespace', name: options.namespace }))) {
          await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: options.namespace } }, { manager: 'doris-cli' });
        }
        target.existing = await applyPipeline(client, options.namespace, target.name, target.rawSpec);
      }
      const pipeline = target.existing ?? (await getPipeline(client, options.namespace, target.name));
      if (!pipeline) throw new Error(`Pipeline ${options.namespace}/${target.name} vanished`);
      if (target.spec.suspend) {
        say(`Pipeline ${target.name} is suspended (spec.suspend: true); nothing to do`);
        if (options.output !== 'text') printData(options, { pipeline: target.name, outcomes: [], result: Reasons.Suspended });
        return;
      }
      const events = new EventRecorder(client, createLogger({ level: 'warn', destination: process.stderr }));
      const onEvent = recordProgressEvents(events, () => pipeline);
      const notifier = new Notifier(client, createLogger({ level: 'warn', destination: process.stderr }), {
        namespace: options.namespace,
        cluster: clusterName(),
      });
      const rolled: ImageChange[] = [];
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const outcomes = await reconcilePipeline({
        client,
        pipeline,
        spec: target.spec,
        credentials: target.credentials,
        workDir: options.workDir,
        controllerNamespace: options.namespace,
        controllerDeployment: 'doris',
        images: new ImageTracker(registryCredentialsResolver(client, options.namespace, flags.registryCredentials)),
        progress: (event) => {
          onEvent(event);
          if (event.type === 'images') rolled.push(...event.changes);
          if (options.output === 'text') printProgress(event);
        },
        signal: controller.signal,
      });
      for (const outcome of outcomes) await recordOutcomeEvent(events, pipeline, outcome);
      notifier.syncEnded(pipeline, target.spec, outcomes, rolled);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      const failed = outcomes.find((o) => o.result !== Reasons.Succeeded);
      if (options.output !== 'text') {
        printData(options, { pipeline: target.name, kind: pipelineKind, apiVersion: pipelineApiVersion, outcomes });
      } else {
        for (const o of outcomes) {
          if (o.result === Reasons.Succeeded) say(`${target.name}: ${o.message}`);
          else say(`${target.name}: sync of ${o.commit.slice(0, 12) || 'the branch'} failed: ${o.result}: ${o.message}`);
        }
      }
      if (!(await notifier.flush(notifyWaitMs))) say(`note: notifications still undelivered after ${notifyWaitMs / 1000} s were given up`);
      notifier.stop();
      if (failed) process.exitCode = ExitCode.failed;
    } finally {
      client.close();
    }
  });
  return command;
}
