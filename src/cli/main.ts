/**
 * `doris`: the command line. Global options come first; each command lives in its own file
 * and is listed in program.ts. Results go to stdout, progress and logs to stderr; the exit
 * code says what happened (common.ts).
 */
import { CommanderError } from 'commander';
import { ExitCode, exitCodeOf, isNetworkError } from './common.js';
import { adaptMarking } from '../runtime/marking.js';
import { buildProgram } from './program.js';

// The image starts node with early marking (src/install/nodeflags.ts); it pays only while the heap is small.
adaptMarking();

// A reader that stops early (`doris status | head -1`) is not an error: stop quietly, as a
// SIGPIPE would. Progress on stderr is not worth stopping for: its loss is ignored.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.ok);
  throw error;
});
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

const program = await buildProgram(process.argv.slice(2));
try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; everything else commander refuses is a usage error.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown }).code;
    const network = isNetworkError(error) ? `cannot reach the cluster (${String(code)}): ` : '';
    process.stderr.write(`doris: ${network}${message}\n`);
    process.exitCode = exitCodeOf(error);
  }
}
