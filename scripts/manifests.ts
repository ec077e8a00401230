/**
 * `npm run manifests`: writes config/install.yaml from src/install/manifests.ts, the one
 * source of the install manifests (test/unit/install/install_test.ts fails when they drift apart).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderInstallYaml } from '../src/install/yaml.js';

const out = join(fileURLToPath(new URL('..', import.meta.url)), 'config', 'install.yaml');
writeFileSync(out, renderInstallYaml());
console.log(`wrote ${out}`);
