/**
 * How far the archived inventory goes (issue 15): the status bytes of an inventory of the
 * benchmark's mix (28% Secrets that DORIS may not read, whose entries carry a uid, a
 * resourceVersion and a desired hash: random, incompressible), and where it meets etcd's
 * 1.5 MiB object limit. The real API server's refusal of an oversized status is proven in
 * test/e2e/status_size_test.ts; a sync whose status write is refused ends StatusWriteFailed
 * (test/unit/reconcile/sync_test.ts).
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { inventoryFields, maxPlainInventoryBytes, readInventory } from '../../../src/inventory/archive.js';

/** etcd's default request limit, which bounds a stored object (status included). */
const etcdLimit = 1.5 * 1024 * 1024;

/** An inventory like the benchmark's: 10 waves, ConfigMaps, Secrets, Services, Deployments, Jobs. */
function benchInventory(objects: number, prefix = 'bench-mx4uw2gi-s40000'): InventoryEntry[] {
  const entries: InventoryEntry[] = [];
  const perWave = Math.floor(objects / 10);
  for (let w = 1; w <= 10; w += 1) {
    const ns = `${prefix}-w${w}`;
    entries.push({ id: `_${ns}__Namespace`, v: 'v1', wave: 0 });
    const deployments = Math.round(perWave * 0.2);
    const jobs = Math.max(1, Math.round(perWave * 0.02));
    const rest = perWave - 1 - 2 * deployments - jobs;
    const pad = (i: number) => String(i).padStart(3, '0');
    for (let i = 0; i < Math.ceil(rest / 2); i += 1) entries.push({ id: `${ns}_config-${pad(i)}__ConfigMap`, v: 'v1', wave: w });
    for (let i = 0; i < Math.floor(rest / 2); i += 1) {
      entries.push({
        id: `${ns}_secret-${pad(i)}__Secret`,
        v: 'v1',
        wave: w,
        uid: randomUUID(),
        rv: String(1_000_000 + Math.floor(Math.random() * 9_000_000)),
        h: createHash('sha256').update(`${ns}/${i}/${Math.random()}`).digest('hex').slice(0, 32),
      });
    }
    for (let i = 0; i < deployments; i += 1) {
      entries.push({ id: `${ns}_app-${pad(i)}__Service`, v: 'v1', wave: w });
      entries.push({ id: `${ns}_app-${pad(i)}_apps_Deployment`, v: 'apps/v1', wave: w });
    }
    for (let i = 0; i < jobs; i += 1) entries.push({ id: `${ns}_migrate-${pad(i)}_batch_Job`, v: 'batch/v1', wave: w });
  }
  return entries;
}

const statusBytes = (entries: InventoryEntry[]) => Buffer.byteLength(JSON.stringify(inventoryFields(entries)));

describe('the archived inventory at scale', () => {
  it('holds 40,000 objects of the benchmark mix in under 60% of etcd’s limit, and reads back whole', () => {
    const entries = benchInventory(40_000);
    const fields = inventoryFields(entries);
    assert.equal(fields.inventory, null, 'stored as the archive');
    assert.ok(Buffer.byteLength(JSON.stringify(entries)) > etcdLimit, 'the plain list would not fit at all');
    const bytes = statusBytes(entries);
    assert.ok(bytes < etcdLimit * 0.6, `40,000 objects take ${bytes} bytes of status`);
    assert.equal(readInventory({ inventoryArchive: fields.inventoryArchive ?? undefined }).length, entries.length);
    process.stderr.write(
      `inventory of ${entries.length}: plain ${Buffer.byteLength(JSON.stringify(entries))} bytes, archived ${bytes} bytes (${(bytes / entries.length).toFixed(1)} bytes/object)\n`,
    );
  });

  it('grows linearly, so the limit of one Pipeline’s inventory can be said: where it meets 1.5 MiB', () => {
    const sizes = [10_000, 20_000, 40_000].map((n) => ({ n, bytes: statusBytes(benchInventory(n)) }));
    const perObject = sizes.map((s) => s.bytes / s.n);
    // Per-object cost roughly constant (within 25%): no super-linear term.
    assert.ok(Math.max(...perObject) / Math.min(...perObject) < 1.25, JSON.stringify(sizes));
    // The rest of the status (conditions, history of 10, images) is under 64 KiB.
    const limit = Math.floor((etcdLimit - 64 * 1024) / perObject.at(-1)!);
    assert.ok(limit > 40_000, `the archive reaches etcd's limit near ${limit} objects`);
    process.stderr.write(`archived inventory: ${JSON.stringify(sizes)}; etcd's 1.5 MiB is reached near ${limit} objects of this mix\n`);
  });

  it('stays a plain, readable list while small', () => {
    const entries = benchInventory(1_000);
    assert.ok(Buffer.byteLength(JSON.stringify(entries)) <= maxPlainInventoryBytes);
    assert.deepEqual(inventoryFields(entries).inventory, entries);
  });
});
