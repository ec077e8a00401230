import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { InventoryEntry, PipelineStatus } from '../../../src/api/pipeline.js';
import { inventoryFields, inventorySize, maxPlainInventoryBytes, readInventory } from '../../../src/inventory/archive.js';

/**
 * An inventory like a real one: 10 waves, a few kinds, namespaces; names carry 10 random-looking
 * characters each, so that compression is not flattered by sequential names.
 */
function inventory(count: number): InventoryEntry[] {
  const kinds = [
    ['ConfigMap', '', 'v1'],
    ['Secret', '', 'v1'],
    ['Service', '', 'v1'],
    ['Deployment', 'apps', 'apps/v1'],
    ['Job', 'batch', 'batch/v1'],
  ] as const;
  return Array.from({ length: count }, (_, i) => {
    const [kind, group, v] = kinds[i % kinds.length]!;
    const wave = 1 + (i % 10);
    const suffix = createHash('sha256').update(String(i)).digest('hex').slice(0, 10);
    return { id: `team-${wave}_service-${suffix}_${group}_${kind}`, v, wave };
  });
}

/** The etcd object limit: the whole Pipeline must fit. */
const etcdLimit = 1.5 * 1024 * 1024;

describe('inventory in status', () => {
  it('stays a plain list, readable with kubectl, while it is small', () => {
    const entries = inventory(100);
    const fields = inventoryFields(entries);
    assert.deepEqual(fields.inventory, entries);
    assert.equal(fields.inventoryArchive, null);
    assert.deepEqual(readInventory(fields as PipelineStatus), entries);
  });

  it('keeps 40,000 objects far within the API server object size, and reads them back', () => {
    const entries = inventory(40_000);
    const plainBytes = Buffer.byteLength(JSON.stringify(entries));
    assert.ok(plainBytes > etcdLimit, `a plain list of 40,000 would not fit (${plainBytes} bytes)`);
    const fields = inventoryFields(entries);
    assert.equal(fields.inventory, null);
    const stored = Buffer.byteLength(JSON.stringify(fields));
    const perEntry = stored / entries.length;
    console.log(
      `inventory of 40,000: plain ${(plainBytes / entries.length).toFixed(1)} bytes per entry, stored ${perEntry.toFixed(2)} bytes per entry (${stored} bytes)`,
    );
    // Room left for a pending inventory of the same size, history and conditions.
    assert.ok(stored < etcdLimit / 3, `${stored} bytes`);
    const status = JSON.parse(JSON.stringify(fields)) as PipelineStatus;
    assert.equal(inventorySize(status), 40_000);
    assert.deepEqual(readInventory(status), entries);
  });

  it('switches form exactly at the plain limit, clearing the other form', () => {
    let entries = inventory(1);
    while (Buffer.byteLength(JSON.stringify(entries)) <= maxPlainInventoryBytes) entries = inventory(entries.length * 2);
    const pending = inventoryFields(entries, 'pendingInventory');
    assert.equal(pending.pendingInventory, null);
    assert.equal(pending.pendingInventoryArchive?.count, entries.length);
    assert.deepEqual(inventoryFields([], 'pendingInventory'), { pendingInventory: [], pendingInventoryArchive: null });
  });
});
