/**
 * `doris suspend NAME` / `doris resume NAME`: sets `spec.suspend` of a Pipeline. A suspended
 * Pipeline is neither synced nor polled; what it applied stays as it is. Resuming changes the
 * spec's generation, so the controller syncs it at once.
 */
import { Command } from 'commander';
import { pipelineKey } from '../status/store.js';
import { out, printResult, withPipeline, type GlobalOptions } from './common.js';

function suspendCommandFor(global: () => GlobalOptions, suspend: boolean): Command {
  const verb = suspend ? 'suspend' : 'resume';
  return new Command(verb)
    .description(
      suspend
        ? 'suspend a Pipeline (spec.suspend: true): no syncs and no image polls; what it applied stays'
        : 'resume a suspended Pipeline (spec.suspend: false); the controller syncs it at once',
    )
    .argument('<name>', 'the Pipeline')
    .action(async (name: string) => {
      const options = global();
      await withPipeline(options, name, async (pipeline, client) => {
        const was = (pipeline.spec as { suspend?: unknown } | undefined)?.suspend === true;
        if (was !== suspend) await client.mergePatch(pipelineKey(options.namespace, name), { spec: { suspend } });
        const result = { name, namespace: options.namespace, suspended: suspend, changed: was !== suspend };
        printResult(options, result, () =>
          out(
            `Pipeline ${options.namespace}/${name} ${suspend ? 'suspended' : 'resumed'}${result.changed ? '' : ` (it was ${suspend ? 'suspended' : 'not suspended'} already)`}`,
          ),
        );
      });
    });
}

export function suspendCommand(global: () => GlobalOptions): Command {
  return suspendCommandFor(global, true);
}

export function resumeCommand(global: () => GlobalOptions): Command {
  return suspendCommandFor(global, false);
}
