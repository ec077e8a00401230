/**
 * `npm run build`: DORIS as it ships, one ES module per entry point bundled by esbuild
 * (docs/adr/0016-one-bundle.md): `dist/doris.mjs` from `src/cli/main.ts`.
 *
 * Why a bundle and not tsc's one file per module: a controller on a small board pays for
 * every module node loads, in resident memory for as long as it runs. One file drops
 * node's per-module records and the code nobody calls, above all the 40-odd translations of
 * zod's error messages that `zod` loads with its core (DORIS speaks English): 8 MiB less
 * resident memory after start-up, and a start twice as fast (the ADR has the figures).
 *
 * `@kubernetes/client-node` stays outside: DORIS loads it only for kubeconfigs with `exec`
 * plugins (docs/adr/0008-kubeconfig-loading.md), and bundling it would make every start read
 * its 14 MB. `tsx scripts/bundle.ts ENTRY OUT` bundles another entry (the benchmarks do).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** zod's core re-exports every locale; DORIS configures none but the default, English. */
const englishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[/\\]node_modules[/\\]zod[/\\]/.test(args.importer) ? { path: join(dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-en' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

/** Bundles `entry` (a path under the repository) into `outfile`. */
export async function bundle(entry: string, outfile: string): Promise<void> {
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@kubernetes/client-node'],
    // Whitespace and syntax only: identifiers stay, so stack traces still read. No keepNames:
    // its 2,200 `__name()` calls give each function an own `name` property (0.6 MiB of heap
    // after start-up, and more each time a nested function is made) only to undo the numeric
    // suffix esbuild adds to the 250 functions whose names collide across modules.
    minifyWhitespace: true,
    minifySyntax: true,
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [englishOnly],
    // Some CommonJS dependencies (pino, prom-client) call require() for node's own modules.
    banner: { js: "import { createRequire as __dorisRequire } from 'node:module'; const require = __dorisRequire(import.meta.url);" },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${entry}`);
  const wide = beyondLatin1(output.text);
  if (wide) {
    throw new Error(
      `${outfile}:${wide.line}:${wide.column}: ${JSON.stringify(wide.char)} is past U+00FF (near ${JSON.stringify(wide.near)}): ` +
        'V8 would hold the whole bundle as UTF-16 (1.3 MiB more heap). Interpolate it (src/server/ui/glyphs.ts) instead of writing it in a template.',
    );
  }
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, output.contents);
}

/**
 * The first character past Latin-1 in `source`, if any. esbuild escapes such characters in
 * string literals but must leave them in a tagged template's text, and one is enough for V8
 * to store the whole source two bytes a character.
 */
export function beyondLatin1(source: string): { line: number; column: number; char: string; near: string } | undefined {
  let at = 0;
  while (at < source.length && source.charCodeAt(at) <= 0xff) at++;
  if (at === source.length) return undefined;
  const before = source.slice(0, at);
  const line = before.split('\n').length;
  const char = String.fromCodePoint(source.codePointAt(at)!);
  return { line, column: at - before.lastIndexOf('\n'), char, near: source.slice(Math.max(0, at - 40), at + 20) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [entry = 'src/cli/main.ts', out = join(root, 'dist', 'doris.mjs')] = process.argv.slice(2);
  // `npm run build` (and so `npm pack`) starts from an empty dist/: the package ships the whole
  // folder, and an earlier build's files (tsc's dist/src/**) must not ride along.
  if (process.argv.length <= 2) rmSync(join(root, 'dist'), { recursive: true, force: true });
  const started = performance.now();
  await bundle(entry, out);
  process.stderr.write(`bundled ${entry} into ${out} in ${Math.round(performance.now() - started)} ms\n`);
}
