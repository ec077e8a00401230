/** `doris status [NAME]`: Pipelines at a glance, or one in detail. */
import { Command } from 'commander';
import type { Pipeline } from '../api/pipeline.js';
import { inventorySize } from '../inventory/archive.js';
import { connect, out, pipelinesIn, printResult, requirePipeline, table, type GlobalOptions } from './common.js';

function ready(p: Pipeline) {
  return p.status?.conditions?.find((c) => c.type === 'Ready');
}

function suspended(p: Pipeline): boolean {
  return (p.spec as { suspend?: unknown } | undefined)?.suspend === true;
}

export function statusCommand(global: () => GlobalOptions): Command {
  return new Command('status')
    .description('show Pipelines: ready, reason, applied commit, last sync; with NAME, its conditions, history and inventory')
    .argument('[name]', 'one Pipeline')
    .addHelpText('after', '\nExit codes: 0 shown, 3 the Pipeline does not exist, 4 the cluster cannot be reached.')
    .action(async (name: string | undefined) => {
      const options = global();
      const client = await connect(options);
      try {
        if (!name) {
          // No catch: an unreachable cluster or a missing CRD is an error, not an empty table.
          const pipelines = await pipelinesIn(client, options.namespace);
          printResult(
            options,
            pipelines.map((p) => ({ name: p.metadata.name, suspended: suspended(p), status: p.status })),
            () => {
              const rows = pipelines.map((p) => {
                const r = ready(p);
                return [
                  p.metadata.name,
                  r?.status ?? 'Unknown',
                  suspended(p) ? 'Suspended' : (r?.reason ?? ''),
                  (p.status?.lastAppliedCommit ?? '').slice(0, 12),
                  String(inventorySize(p.status)),
                  p.status?.history?.[0]?.finishedAt ?? '',
                ];
              });
              for (const line of table([['NAME', 'READY', 'REASON', 'COMMIT', 'OBJECTS', 'LAST SYNC'], ...rows])) out(line);
            },
          );
          return;
        }
        const pipeline = await requirePipeline(client, options.namespace, name);
        printResult(options, pipeline, () => {
          const s = pipeline.status ?? {};
          out(`Pipeline ${options.namespace}/${name}${suspended(pipeline) ? ' (suspended)' : ''}`);
          out(`  applied commit:   ${s.lastAppliedCommit ?? '-'} (${s.lastAppliedTime ?? 'never'})`);
          out(`  attempted commit: ${s.lastAttemptedCommit ?? '-'}`);
          const pending = inventorySize(s, 'pendingInventory');
          out(`  inventory:        ${inventorySize(s)} objects${pending ? `, ${pending} pending` : ''}`);
          for (const c of s.conditions ?? []) out(`  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
          out('  history:');
          for (const h of (s.history ?? []).slice(0, 10)) {
            const c = h.counts;
            out(`    ${h.finishedAt} ${h.commit.slice(0, 12)} ${h.result} (+${c.created} ~${c.configured} =${c.unchanged} -${c.pruned})`);
          }
        });
      } finally {
        client.close();
      }
    });
}
