/**
 * `doris completion`: each shell parses the script generated from the real command tree.
 * Needs zsh and fish, which the test environment installs (test/env/prereqs.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { completionScript, completionSpec } from '../../src/cli/completion.js';
import { buildProgram } from '../../src/cli/program.js';

describe('doris completion', () => {
  it('every shell accepts its script (syntax check by the shell)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doris-completion-'));
    try {
      for (const [shell, check] of [
        ['bash', ['-n']],
        ['zsh', ['-n']],
        ['fish', ['--no-execute']],
      ] as const) {
        const file = join(dir, `c.${shell}`);
        writeFileSync(file, completionScript(shell, completionSpec(await buildProgram())));
        const result = spawnSync(shell, [...check, file], { encoding: 'utf8' });
        assert.equal(result.error, undefined, `${shell} is needed to check its completion script (apt-get install ${shell})`);
        assert.equal(result.status, 0, `${shell}: ${result.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
