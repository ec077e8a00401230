/** The user documentation stays true to the code, and stays inside the repository. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generated, withBlock } from '../../../scripts/docs.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const userDocs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Every Markdown file a reader of the repository gets, ADRs and the benchmark's included. */
const allDocs = [
  ...userDocs,
  'bench/README.md',
  ...readdirSync(join(root, 'docs', 'adr'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/adr/${f}`),
];

describe('user documentation', () => {
  it('docs/cli.md and docs/pipeline-reference.md hold every command, flag and field as the code has them (npm run docs)', async () => {
    for (const [file, make] of Object.entries(generated)) {
      const text = readFileSync(join(root, file), 'utf8');
      assert.equal(text, withBlock(text, await make()), `${file} is out of date: run npm run docs`);
    }
  });

  it('the guides exist and link only to files of the repository that exist', () => {
    for (const guide of ['concepts', 'pipeline-reference', 'cli', 'install-k3s', 'quickstart-github-ghcr', 'troubleshooting', 'uninstall']) {
      assert.ok(userDocs.includes(`docs/${guide}.md`), `docs/${guide}.md is missing`);
    }
    for (const file of userDocs) {
      const text = readFileSync(join(root, file), 'utf8');
      assert.doesNotMatch(text, /\.\.\/shared|\/work\/shared/, `${file} points outside the repository`);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        assert.doesNotMatch(target!, /^[a-z]+:/i, `${file} links outside the repository: ${target}`);
        const resolved = join(root, file.includes('/') ? 'docs' : '', target!);
        assert.ok(existsSync(resolved), `${file}: ${target} does not exist`);
      }
    }
  });

  it('stands on its own: no document refers to the planning documents the repository does not hold', () => {
    for (const file of allDocs) {
      const text = readFileSync(join(root, file), 'utf8');
      assert.doesNotMatch(text, /\.\.\/shared|\/work\/shared|\bSPEC\b|\bSTYLE(\.md|,)/, `${file} refers to a document outside the repository`);
    }
  });
});
