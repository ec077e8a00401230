/** `doris version`: which DORIS this is (the package version), and on which Node. */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { out, printResult, type GlobalOptions } from './common.js';

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
  arch: string;
}

/** The package's version: package.json is two folders up from src/cli, three from dist/src/cli. */
export function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = new URL(up, import.meta.url);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'doris' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

export function versionInfo(): VersionInfo {
  return { version: packageVersion(), node: process.version, platform: process.platform, arch: process.arch };
}

export function versionCommand(global: () => GlobalOptions): Command {
  return new Command('version').description('print the version of this doris command (and the Node.js running it)').action(() => {
    const info = versionInfo();
    printResult(global(), info, () => out(`doris ${info.version} (node ${info.node}, ${info.platform}/${info.arch})`));
  });
}
