/**
 * The mass-prune guard. An emptied or mis-pointed repository looks, to a sync, exactly like
 * "delete everything": on an edge device that wipes the workload. A sync that would prune
 * more than half of the inventory, and more than a few objects, is refused unless the
 * Pipeline says `spec.prune.allowMass: true`.
 */
export interface PruneGuardOptions {
  /** Prunes of at most this many objects are always allowed. */
  minObjects: number;
  /** Larger prunes are refused above this share of the inventory. */
  maxFraction: number;
  allowMass: boolean;
}

export function defaultPruneGuardOptions(): PruneGuardOptions {
  return { minObjects: 5, maxFraction: 0.5, allowMass: false };
}

/** `undefined` when the prune may go ahead, else the reason it may not. */
export function pruneGuardRefusal(toPrune: number, inventorySize: number, options = defaultPruneGuardOptions()): string | undefined {
  if (options.allowMass || toPrune <= options.minObjects) return undefined;
  if (toPrune <= inventorySize * options.maxFraction) return undefined;
  return (
    `refusing to prune ${toPrune} of ${inventorySize} objects (more than ${Math.round(options.maxFraction * 100)}% of the inventory): ` +
    'if the repository really was emptied on purpose, set spec.prune.allowMass: true on the Pipeline'
  );
}
