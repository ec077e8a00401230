/**
 * `doris fleet promote|pause|resume|abort FLEET`: act on a Fleet's staged rollout by hand.
 * The command is an annotation on the Fleet (`hub.doris.dev/command: <verb>@<time>`); the
 * hub leader acts on it once and records it in `status.rollout.lastCommand`, so the CLI needs
 * no route to the hub, only to its cluster (patch on fleets).
 */
import { Command } from 'commander';
import { type Fleet, hubApiVersion } from '../api/hub.js';
import { commandAnnotation } from '../hub/rollout/driver.js';
import type { RolloutCommand } from '../hub/rollout/engine.js';
import { NotFoundError, connect, out, printResult, type GlobalOptions } from './common.js';
import { hubNamespace, hubNamespaceHelp } from './hub.js';

const descriptions: Record<RolloutCommand, string> = {
  promote: 'mark the current stage of the rollout done now (also overrides a halt): the next stage gets the revision',
  pause: 'pause the rollout: no stage starts, completes or halts, a newer revision waits, until resume',
  resume: 'resume a paused rollout; on a halted one, retry the halted stage (after abort: restart at the first stage)',
  abort: 'stop the rollout: every device goes back to the last good revision (the rollout is Halted)',
};

function rolloutCommand(global: () => GlobalOptions, verb: RolloutCommand): Command {
  return new Command(verb)
    .description(descriptions[verb])
    .argument('<fleet>', 'the Fleet')
    .addHelpText('after', `${hubNamespaceHelp}\nThe hub leader acts on it within a second or so; doris fleet status F shows the result.`)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const options = global();
      const namespace = hubNamespace(command, options);
      const client = await connect(options);
      try {
        const key = { apiVersion: hubApiVersion, kind: 'Fleet', namespace, name };
        const fleet = (await client.get(key).catch((error: unknown) => {
          throw new NotFoundError(`cannot read Fleet ${namespace}/${name} (is the hub installed? doris hub installs its CRDs): ${(error as Error).message}`);
        })) as unknown as Fleet | undefined;
        if (!fleet) throw new NotFoundError(`no Fleet ${namespace}/${name}`);
        // The time makes each request a new value: the same verb twice is two commands.
        const value = `${verb}@${new Date().toISOString()}`;
        await client.mergePatch(key, { metadata: { annotations: { [commandAnnotation]: value } } });
        const rollout = fleet.status?.rollout as { state?: string; stage?: string } | undefined;
        const result = { name, namespace, command: verb, annotation: value, state: rollout?.state ?? null, stage: rollout?.stage ?? null };
        printResult(options, result, () =>
          out(
            `Fleet ${namespace}/${name}: ${verb} requested (${commandAnnotation}: ${value}); the rollout was ${rollout?.state ?? 'not started'}${rollout?.stage ? ` at stage ${rollout.stage}` : ''}`,
          ),
        );
      } finally {
        client.close();
      }
    });
}

/** `promote`, `pause`, `resume` and `abort`, for `doris fleet` (src/cli/fleet.ts adds them). */
export function fleetRolloutCommands(global: () => GlobalOptions): Command[] {
  return (['promote', 'pause', 'resume', 'abort'] as const).map((verb) => rolloutCommand(global, verb));
}
