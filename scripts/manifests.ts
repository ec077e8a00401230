/**
 * `npm run manifests`: writes config/install.yaml from src/install/manifests.ts, the one
 * source of the install manifests (test/unit/install/install_test.ts fails when they drift apart),
 * and config/hub.yaml from src/hub/install.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderInstallYaml } from '../src/install/yaml.js';
import { defaultHubNamespace, hubYamlHeader, renderHubInstallYaml } from '../src/hub/install.js';

const config = join(fileURLToPath(new URL('..', import.meta.url)), 'config');
const out = join(config, 'install.yaml');
writeFileSync(out, renderInstallYaml());
console.log(`wrote ${out}`);
// The hub (src/hub/install.ts), in its default namespace; test/unit/hub/install_test.ts checks it.
const hub = join(config, 'hub.yaml');
writeFileSync(hub, renderHubInstallYaml({ namespace: defaultHubNamespace }, hubYamlHeader));
console.log(`wrote ${hub}`);
