#!/usr/bin/env node
// Entry point of the `doris` command. In a clone (after `npm ci`) it runs the TypeScript
// sources through tsx, so no build step is needed and a stale build is never run. An
// installed package (`npm pack` + `npm install -g`) carries no sources: it runs the
// JavaScript compiled into dist/ when the tarball was packed (the `prepack` script).
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

const register = existsSync(sources) ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write('doris: neither the sources with tsx (run `npm ci`) nor a build in dist/ (run `npm run build`) were found\n');
  process.exitCode = 1;
}
