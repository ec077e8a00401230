/**
 * `npm run testenv -- up|down|status|new-repo NAME|push-image NAME:TAG [--content TEXT]`
 * The verbs that make the test environment usable by hand and from shell scripts.
 */
import { Command } from 'commander';
import { newRepo } from './gitrepo.js';
import { down, status, up } from './lifecycle.js';
import { pushImage } from './oci.js';
import { gitServer, loadTestEnv } from './testenv.js';

const program = new Command('testenv')
  .description('The real local test environment: Kubernetes control plane + kwok, git smart-HTTP server, OCI registry.')
  .showHelpAfterError();
program
  .command('up')
  .description('start everything (building the control plane on first use) and write .testenv/env')
  .action(async () => {
    await up();
  });
program.command('down').description('stop every process that up started, by PID').action(down);
program
  .command('status')
  .description('show the processes and whether they run')
  .action(() => {
    process.exitCode = status();
  });
program
  .command('new-repo')
  .argument('<name>', 'repository name (letters, digits, . _ -)')
  .description('create an empty repository on the git server and print its clone URL')
  .action(async (name: string) => {
    console.log(await newRepo(gitServer(loadTestEnv()), name));
  });
program
  .command('push-image')
  .argument('<ref>', 'NAME:TAG, e.g. acme/solar-influx:main')
  .option('--content <text>', 'text of the image’s single layer (different text, different digest)', 'hello')
  .description('build a one-layer image, push it to the registry and print its digest')
  .action(async (ref: string, options: { content: string }) => {
    const colon = ref.lastIndexOf(':');
    if (colon <= 0 || ref.includes('@')) throw new Error(`expected NAME:TAG, got ${ref}`);
    const env = loadTestEnv();
    const digest = await pushImage(
      { registry: env.REGISTRY, username: env.REGISTRY_USERNAME, password: env.REGISTRY_PASSWORD },
      ref.slice(0, colon),
      ref.slice(colon + 1),
      options.content,
    );
    console.log(digest);
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`testenv: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
