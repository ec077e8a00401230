/** `doris status [NAME]`: Pipelines at a glance, or one in detail. */
import { Command } from 'commander';
import type { Pipeline } from '../api/pipeline.js';
import { getPipeline, listPipelines } from '../status/store.js';
import { ExitCode, connect, printJson, type GlobalOptions } from './common.js';
import { inventorySize } from '../inventory/archive.js';

function ready(p: Pipeline) {
  return p.status?.conditions?.find((c) => c.type === 'Ready');
}

export function statusCommand(global: () => GlobalOptions): Command {
  return new Command('status')
    .description('show Pipelines: ready, reason, applied commit, last sync; with NAME, its conditions, history and inventory')
    .argument('[name]', 'one Pipeline')
    .action(async (name: string | undefined) => {
      const options = global();
      const client = await connect(options);
      try {
        const out = (line: string) => process.stdout.write(`${line}\n`);
        if (!name) {
          const pipelines = await listPipelines(client, options.namespace).catch(() => [] as Pipeline[]);
          if (options.output === 'json') return printJson(pipelines.map((p) => ({ name: p.metadata.name, status: p.status })));
          out(['NAME', 'READY', 'REASON', 'COMMIT', 'OBJECTS', 'LAST SYNC'].map((h, i) => h.padEnd([20, 7, 20, 14, 9, 25][i]!)).join(''));
          for (const p of pipelines) {
            const r = ready(p);
            out(
              [
                p.metadata.name,
                r?.status ?? 'Unknown',
                r?.reason ?? '',
                (p.status?.lastAppliedCommit ?? '').slice(0, 12),
                String(inventorySize(p.status)),
                p.status?.history?.[0]?.finishedAt ?? '',
              ]
                .map((v, i) => v.padEnd([20, 7, 20, 14, 9, 25][i]!))
                .join(''),
            );
          }
          return;
        }
        const pipeline = await getPipeline(client, options.namespace, name);
        if (!pipeline) {
          process.stderr.write(`Pipeline ${options.namespace}/${name} not found\n`);
          process.exitCode = ExitCode.failed;
          return;
        }
        if (options.output === 'json') return printJson(pipeline);
        const s = pipeline.status ?? {};
        out(`Pipeline ${options.namespace}/${name}`);
        out(`  applied commit:   ${s.lastAppliedCommit ?? '-'} (${s.lastAppliedTime ?? 'never'})`);
        out(`  attempted commit: ${s.lastAttemptedCommit ?? '-'}`);
        out(
          `  inventory:        ${inventorySize(s)} objects${inventorySize(s, 'pendingInventory') ? `, ${inventorySize(s, 'pendingInventory')} pending` : ''}`,
        );
        for (const c of s.conditions ?? []) out(`  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
        out('  history:');
        for (const h of (s.history ?? []).slice(0, 10)) {
          const c = h.counts;
          out(`    ${h.finishedAt} ${h.commit.slice(0, 12)} ${h.result} (+${c.created} ~${c.configured} =${c.unchanged} -${c.pruned})`);
        }
      } finally {
        client.close();
      }
    });
}
