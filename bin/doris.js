#!/usr/bin/env node
// Entry point of the `doris` command. In a clone (after `npm ci`) it runs the TypeScript
// sources through tsx, so no build step is needed and a stale build is never run. An
// installed package (`npm pack` + `npm install -g`) and the image carry no sources: they run
// dist/doris.mjs, the one ES module esbuild bundled when the tarball was packed (the
// `prepack` script runs `npm run build`; docs/adr/0016-one-bundle.md).
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/doris.mjs', import.meta.url);

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
