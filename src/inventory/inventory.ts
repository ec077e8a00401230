/**
 * The inventory: which objects a Pipeline has applied, as plain data kept in its status.
 * Each entry is an id `<namespace>_<name>_<group>_<kind>` (Flux's format), the apiVersion
 * it was applied with, and its wave (prune deletes highest wave first). The difference
 * between the last inventory and the desired set is what a sync prunes.
 */
import type { InventoryEntry } from '../api/pipeline.js';
import { objectId } from '../kube/objectid.js';
import type { DesiredObject } from '../render/types.js';

export function inventoryOf(objects: DesiredObject[]): InventoryEntry[] {
  return mergeInventories(objects.map((d) => ({ id: objectId(d.object), v: d.object.apiVersion, wave: d.wave })));
}

/** Union by id (a later list wins for the same id), sorted by id. */
export function mergeInventories(...lists: InventoryEntry[][]): InventoryEntry[] {
  const byId = new Map<string, InventoryEntry>();
  for (const list of lists) for (const entry of list) byId.set(entry.id, entry);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Entries of `previous` that are not desired any more: highest wave first, then by id. */
export function staleEntries(previous: InventoryEntry[], desired: InventoryEntry[]): InventoryEntry[] {
  const keep = new Set(desired.map((e) => e.id));
  return previous.filter((e) => !keep.has(e.id)).sort((a, b) => b.wave - a.wave || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
