/**
 * How the inventory is stored in a Pipeline's status, within the API server's object size.
 *
 * etcd stores an object of at most 1.5 MiB, status included. A plain inventory entry
 * (`{"id":"monitoring_influxdb_apps_Deployment","v":"apps/v1","wave":2}`) is 60–90 bytes, so
 * a Pipeline of 20,000 objects would not fit, the status write would fail, and Ready=True of
 * the previous commit would stand. So the inventory is kept as a plain list — readable with
 * `kubectl get -o yaml` — while it is small, and as a gzip-compressed, base64-encoded archive
 * of the same list once its JSON passes `maxPlainInventoryBytes`. Readers go through
 * `readInventory`, which understands both; writers through `inventoryFields`, which sets one
 * form and clears the other (JSON merge patch: `null` removes a field).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { InventoryEntry, InventoryArchive, PipelineStatus } from '../api/pipeline.js';

/** Above this size (JSON bytes) an inventory is stored compressed. */
export const maxPlainInventoryBytes = 128 * 1024;

export function packInventory(entries: InventoryEntry[]): InventoryArchive {
  return { encoding: 'gzip+base64', count: entries.length, data: gzipSync(JSON.stringify(entries), { level: 9 }).toString('base64') };
}

export function unpackInventory(archive: InventoryArchive): InventoryEntry[] {
  if (archive.encoding !== 'gzip+base64') throw new Error(`unknown inventory encoding ${JSON.stringify(archive.encoding)}`);
  const entries = JSON.parse(gunzipSync(Buffer.from(archive.data, 'base64')).toString('utf8')) as unknown;
  if (!Array.isArray(entries)) throw new Error('inventory archive does not hold a list');
  return entries as InventoryEntry[];
}

type Which = 'inventory' | 'pendingInventory';

/** The entries of `status.inventory` (or `pendingInventory`), in whichever form they are stored. */
export function readInventory(status: PipelineStatus | undefined, which: Which = 'inventory'): InventoryEntry[] {
  const archive = which === 'inventory' ? status?.inventoryArchive : status?.pendingInventoryArchive;
  if (archive) return unpackInventory(archive);
  return (which === 'inventory' ? status?.inventory : status?.pendingInventory) ?? [];
}

/** How many objects an inventory holds, without unpacking it. */
export function inventorySize(status: PipelineStatus | undefined, which: Which = 'inventory'): number {
  const archive = which === 'inventory' ? status?.inventoryArchive : status?.pendingInventoryArchive;
  return archive ? archive.count : ((which === 'inventory' ? status?.inventory : status?.pendingInventory)?.length ?? 0);
}

/** The status fields that store `entries` as `which`: plain or archived, the other form cleared. */
export function inventoryFields(entries: InventoryEntry[], which: Which = 'inventory'): Partial<PipelineStatus> {
  const plain = Buffer.byteLength(JSON.stringify(entries)) <= maxPlainInventoryBytes;
  if (which === 'inventory') return plain ? { inventory: entries, inventoryArchive: null } : { inventory: null, inventoryArchive: packInventory(entries) };
  return plain ? { pendingInventory: entries, pendingInventoryArchive: null } : { pendingInventory: null, pendingInventoryArchive: packInventory(entries) };
}
