/** `doris history NAME`: a Pipeline's last syncs (newest first) and its image digest changes. */
import { Command } from 'commander';
import { out, printResult, table, withPipeline, type GlobalOptions } from './common.js';

export function historyCommand(global: () => GlobalOptions): Command {
  return new Command('history')
    .description('show the last syncs of a Pipeline, newest first: when, commit, result, counts; and the image digest changes')
    .argument('<name>', 'the Pipeline')
    .action(async (name: string) => {
      const options = global();
      await withPipeline(options, name, async (pipeline) => {
        const history = pipeline.status?.history ?? [];
        const images = pipeline.status?.imageHistory ?? [];
        printResult(options, { name, namespace: options.namespace, history, imageHistory: images }, () => {
          if (history.length === 0) out(`Pipeline ${options.namespace}/${name} has not synced yet`);
          else {
            const rows = history.map((h) => {
              const c = h.counts;
              const first = h.message.split('\n')[0] ?? '';
              return [
                h.finishedAt,
                h.commit.slice(0, 12) || '-',
                h.result,
                `+${c.created} ~${c.configured} ^${c.recreated} =${c.unchanged} -${c.pruned}`,
                first,
              ];
            });
            for (const line of table([['FINISHED', 'COMMIT', 'RESULT', 'CHANGES', 'MESSAGE'], ...rows])) out(line);
          }
          if (images.length > 0) {
            out('');
            const rows = images.map((i) => [i.at, `${i.repository}:${i.tag}`, i.from ? i.from.slice(0, 19) : '-', i.to.slice(0, 19)]);
            for (const line of table([['AT', 'IMAGE', 'FROM', 'TO'], ...rows])) out(line);
          }
        });
      });
    });
}
