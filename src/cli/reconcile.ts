/**
 * `doris reconcile NAME [--wait]`: asks the running controller to sync a Pipeline now, by a
 * fresh value in the `doris.dev/reconcile-requested-at` annotation (src/api/reconcile.ts).
 * With `--wait` it waits until the controller acknowledges the request in status — which it
 * does once the sync that answered it has ended — and prints that sync's result.
 */
import { Command, Option } from 'commander';
import type { Pipeline } from '../api/pipeline.js';
import { handledReconcile, reconcileRequestAnnotation } from '../api/reconcile.js';
import { getPipeline, pipelineKey } from '../status/store.js';
import { ExitCode, NotFoundError, durationFlag, formatDuration, out, printResult, say, withPipeline, type GlobalOptions } from './common.js';

interface ReconcileFlags {
  wait: boolean;
  timeout: number;
}

const defaultTimeoutMs = 5 * 60_000;

/** What a finished sync left in status, as the result of the request. */
export function reconcileResult(pipeline: Pipeline, requestedAt: string) {
  const ready = pipeline.status?.conditions?.find((c) => c.type === 'Ready');
  const last = pipeline.status?.history?.[0];
  return {
    name: pipeline.metadata.name,
    namespace: pipeline.metadata.namespace,
    requestedAt,
    handled: handledReconcile(pipeline) === requestedAt,
    ready: ready?.status ?? 'Unknown',
    reason: ready?.reason ?? '',
    message: ready?.message ?? '',
    commit: pipeline.status?.lastAppliedCommit ?? '',
    lastSync: last ? { commit: last.commit, finishedAt: last.finishedAt, result: last.result } : undefined,
  };
}

export function reconcileCommand(global: () => GlobalOptions): Command {
  return new Command('reconcile')
    .description('ask the running controller to sync a Pipeline now (annotation doris.dev/reconcile-requested-at); with --wait, wait for the result')
    .argument('<name>', 'the Pipeline')
    .option('--wait', 'wait until the controller has synced and print the result', false)
    .addOption(
      new Option('--timeout <duration>', 'how long --wait waits')
        .argParser(durationFlag('--timeout 2m'))
        .default(defaultTimeoutMs, formatDuration(defaultTimeoutMs)),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 requested (with --wait: synced, Ready=True), 1 the sync failed or --wait timed out,
2 usage error, 3 the Pipeline does not exist, 4 the cluster cannot be reached.`,
    )
    .action(async (name: string, flags: ReconcileFlags) => {
      const options = global();
      await withPipeline(options, name, async (pipeline, client) => {
        if ((pipeline.spec as { suspend?: unknown } | undefined)?.suspend === true) {
          say(`Pipeline ${options.namespace}/${name} is suspended: resume it first (doris resume ${name})`);
          process.exitCode = ExitCode.failed;
          return;
        }
        const requestedAt = new Date().toISOString();
        await client.mergePatch(pipelineKey(options.namespace, name), { metadata: { annotations: { [reconcileRequestAnnotation]: requestedAt } } });
        if (!flags.wait) {
          printResult(options, { name, namespace: options.namespace, requestedAt }, () =>
            out(`reconcile of ${options.namespace}/${name} requested at ${requestedAt}`),
          );
          return;
        }
        if (options.output === 'text')
          say(`reconcile of ${options.namespace}/${name} requested; waiting for the controller (up to ${formatDuration(flags.timeout)})`);
        const deadline = Date.now() + flags.timeout;
        let current: Pipeline | undefined = pipeline;
        // Answered when the controller acknowledges this request, or a later one (values are ISO times).
        while (!((handledReconcile(current) ?? '') >= requestedAt)) {
          if (Date.now() > deadline) {
            say(
              `the controller did not answer within ${formatDuration(flags.timeout)}: is it running and leading? (doris check; kubectl -n ${options.namespace} logs deploy/doris)`,
            );
            process.exitCode = ExitCode.failed;
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 500));
          current = await getPipeline(client, options.namespace, name);
          if (!current) throw new NotFoundError(`Pipeline ${options.namespace}/${name} was deleted while waiting`);
        }
        const result = reconcileResult(current, requestedAt);
        printResult(options, result, () => {
          out(`${name}: Ready=${result.ready} ${result.reason}: ${result.message}`);
        });
        if (result.ready !== 'True') process.exitCode = ExitCode.failed;
      });
    });
}
