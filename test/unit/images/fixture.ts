/** Loads YAML fixtures from testdata/images/ as rendered objects (with their source location). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '../../../src/render/yaml.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';

const testdata = fileURLToPath(new URL('../../../testdata/images/', import.meta.url));

export function loadFixture(name: string): DesiredObject[] {
  const file = `testdata/images/${name}`;
  const parsed = parseManifests(readFileSync(`${testdata}${name}`, 'utf8'), file);
  if (parsed.problems.length > 0) throw new Error(`${file}: ${parsed.problems.map((p) => p.message).join('; ')}`);
  return parsed.documents.map((d) => ({ object: d.object, wave: 1, waveName: '1-test', step: 10, source: { file, line: d.line, col: d.col } }));
}

export function byName(objects: DesiredObject[], kind: string, name: string): KubeObject {
  const found = objects.find((d) => d.object.kind === kind && d.object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in fixture`);
  return found.object;
}
