import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { nextMarking, offAboveMiB, onBelowMiB, triggerOf } from '../../../src/runtime/marking.js';

const run = promisify(execFile);

describe('early marking only while the heap is small', () => {
  it('reads the trigger from node options: the last one counts; absent or 0 means nothing to adapt', () => {
    const cases: Array<[string[], number | undefined]> = [
      [[], undefined],
      [['--max-semi-space-size=1'], undefined],
      [['--incremental-marking-hard-trigger=10'], 10],
      [['--incremental_marking_hard_trigger=25'], 25],
      [['--incremental-marking-hard-trigger=10', '--incremental-marking-hard-trigger=0'], undefined],
      [['--incremental-marking-hard-trigger=0', '--incremental-marking-hard-trigger=30'], 30],
      [['--incremental-marking-hard-trigger'], undefined],
      [['--incremental-marking-hard-trigger=ten'], undefined],
    ];
    for (const [argv, want] of cases) assert.equal(triggerOf(argv), want, argv.join(' '));
  });

  it('turns off above the upper bound, back on below the lower one, and holds in between', () => {
    assert.ok(onBelowMiB < offAboveMiB);
    const steps: Array<[boolean, number, boolean]> = [
      [true, 18, true],
      [true, offAboveMiB, true],
      [true, offAboveMiB + 0.1, false],
      [false, offAboveMiB + 10, false],
      [false, onBelowMiB + 1, false],
      [false, onBelowMiB, false],
      [false, onBelowMiB - 0.1, true],
    ];
    for (const [on, live, want] of steps) assert.equal(nextMarking(on, live), want, `${on ? 'on' : 'off'} at ${live} MiB`);
  });

  it('in a process started with the flag: off while a large heap is live, on again once it is freed; the process still exits by itself', async () => {
    const program = `
      const { adaptMarking } = await import(${JSON.stringify(new URL('../../../src/runtime/marking.ts', import.meta.url).href)});
      const state = adaptMarking();
      const settle = () => new Promise((resolve) => setImmediate(resolve));
      const churn = async () => { for (let r = 0; r < 40; r++) { const t = []; for (let i = 0; i < 20000; i++) t.push({ k: 'y' + i }); await settle(); } };
      const seen = [state.on];
      globalThis.live = []; for (let i = 0; i < 600000; i++) globalThis.live.push({ a: 'x' + i, b: [i] });
      await churn(); seen.push(state.on);
      globalThis.live = undefined;
      await churn(); seen.push(state.on);
      console.log(JSON.stringify({ seen, switches: state.switches, liveMaxMiB: state.liveMaxMiB }));
    `;
    const { stdout } = await run(
      process.execPath,
      ['--max-semi-space-size=1', '--incremental-marking-hard-trigger=10', '--max-old-space-size=128', '--import', 'tsx', '--input-type=module', '-e', program],
      { timeout: 60_000 },
    );
    const result = JSON.parse(stdout) as { seen: boolean[]; switches: number; liveMaxMiB: number };
    assert.deepEqual(result.seen, [true, false, true], `liveMaxMiB ${result.liveMaxMiB}`);
    assert.equal(result.switches, 2);
    assert.ok(result.liveMaxMiB > offAboveMiB);
  });

  it('does nothing in a process started without the flag', async () => {
    const program = `
      const { adaptMarking } = await import(${JSON.stringify(new URL('../../../src/runtime/marking.ts', import.meta.url).href)});
      console.log(JSON.stringify(adaptMarking() ?? null));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { timeout: 60_000 });
    assert.equal(stdout.trim(), 'null');
  });
});
