/**
 * Which DORIS this is, and how it introduces itself to git hosts and registries
 * (`User-Agent: doris/0.1.0`, or `doris-hub/0.1.0` from the hub), so that their access logs
 * tell an agent, a controller and a hub apart.
 */
import { existsSync, readFileSync } from 'node:fs';

let version: string | undefined;

/** The package's version: package.json is one folder up from src/ (tsx) and from dist/ (the bundle, dist/doris.mjs). */
export function packageVersion(): string {
  if (version !== undefined) return version;
  version = 'unknown';
  const file = new URL('../package.json', import.meta.url);
  if (existsSync(file)) {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'doris' && pkg.version) version = pkg.version;
  }
  return version;
}

let component = 'doris';

/** Set once at start by a process that is not the controller (the hub). */
export function setComponent(name: 'doris' | 'doris-hub'): void {
  component = name;
}

export function userAgent(): string {
  return `${component}/${packageVersion()}`;
}
