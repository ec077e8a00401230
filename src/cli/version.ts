/** `doris version`: which DORIS this is (the package version), and on which Node. */
import { Command } from 'commander';
import { packageVersion } from '../version.js';
import { out, printResult, type GlobalOptions } from './common.js';

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
  arch: string;
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
