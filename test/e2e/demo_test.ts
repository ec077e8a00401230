/** `npm run demo -- --exit` against the running environment: the loop it shows really happens. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoRoot } from '../env/paths.js';

describe('npm run demo', () => {
  it('installs DORIS, applies a commit and an image push by itself, and prints what happened', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts', '--exit'], { cwd: repoRoot, env: process.env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /1\. DORIS applied the repository: applied [0-9a-f]{12}: 8 created/);
    assert.match(out, /DORIS applied it: applied [0-9a-f]{12}: 0 created, 2 configured/);
    assert.match(out, /DORIS rolled influx to 127\.0\.0\.1:\d+\/acme\/solar-influx:main@sha256:[0-9a-f]{64}/);
  });
});
