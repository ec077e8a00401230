/** `doris completion`: scripts generated from the command tree, checked by the shells themselves. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { completionScript, completionSpec, type CompletionSpec } from '../../../src/cli/completion.js';
import { buildProgram, commandWord } from '../../../src/cli/program.js';

const spec: CompletionSpec = {
  name: 'doris',
  options: [
    { long: '--namespace', short: '-n', takesValue: true, description: 'the namespace' },
    { long: '--help', short: '-h', takesValue: false, description: 'help' },
  ],
  commands: [
    { name: 'diff', description: "what a sync would change: it's field-level", options: [{ long: '--pipeline', takesValue: true, description: 'a Pipeline' }] },
    { name: 'completion', description: 'scripts', options: [], arguments: ['bash', 'zsh', 'fish'] },
  ],
};

/** Runs a bash completion for the words typed so far (the last one being completed). */
function bashComplete(script: string, words: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'doris-completion-'));
  try {
    const file = join(dir, 'c.bash');
    writeFileSync(file, script);
    const program = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _doris; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = spawnSync('bash', ['-c', program], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('completion scripts', () => {
  it('bash completes commands, their flags, and skips the value of a global flag', () => {
    const script = completionScript('bash', spec);
    assert.deepEqual(bashComplete(script, ['doris', 'di']), ['diff']);
    // `diff` here is the value of -n: the command is still to come.
    assert.deepEqual(bashComplete(script, ['doris', '-n', 'diff', 'di']), ['diff']);
    assert.deepEqual(bashComplete(script, ['doris', '-n', 'prod', 'diff', '--pi']), ['--pipeline']);
    assert.deepEqual(bashComplete(script, ['doris', 'completion', 'z']), ['zsh']);
  });

  it('quotes descriptions, so an apostrophe cannot end a string', () => {
    assert.match(completionScript('fish', spec), /-d 'what a sync would change: it'\\''s field-level'/);
    assert.match(completionScript('zsh', spec), /'diff:what a sync would change\\: it'\\''s field-level'/);
  });

  it('knows every command and flag of the real program', async () => {
    const real = completionSpec(await buildProgram());
    const names = real.commands.map((c) => c.name);
    for (const name of ['diff', 'reconcile', 'suspend', 'resume', 'history', 'tree', 'uninstall', 'check', 'version', 'completion'])
      assert.ok(names.includes(name), name);
    const options = (name: string) => real.commands.find((c) => c.name === name)!.options.map((o) => o.long);
    assert.ok(options('reconcile').includes('--wait'));
    assert.ok(options('diff').includes('--pipeline'));
    assert.ok(real.options.some((o) => o.long === '--context' && o.takesValue));
    assert.match(completionScript('bash', real), /--delete-objects/);
  });
});

describe('loading only the command that runs', () => {
  it('finds the command word past global options and their values', () => {
    assert.equal(commandWord(['-n', 'status', 'version']), 'version');
    assert.equal(commandWord(['--kubeconfig', 'k', '--context', 'c', '-o', 'json', 'status', 'main']), 'status');
    assert.equal(commandWord(['--output=json', 'tree', 'x']), 'tree');
    assert.equal(commandWord(['--help']), undefined);
  });

  it('a command line that names a command builds only that one; help and unknown words build all', async () => {
    assert.deepEqual(
      (await buildProgram(['-n', 'x', 'version'])).commands.map((c) => c.name()),
      ['version'],
    );
    assert.deepEqual(
      (await buildProgram(['suspend', 'a'])).commands.map((c) => c.name()),
      ['suspend', 'resume'],
    );
    const all = (await buildProgram([])).commands.map((c) => c.name());
    assert.deepEqual(
      (await buildProgram(['help', 'status'])).commands.map((c) => c.name()),
      all,
    );
    assert.deepEqual(
      (await buildProgram(['completion', 'bash'])).commands.map((c) => c.name()),
      all,
    );
    assert.ok(all.length >= 17);
  });
});
