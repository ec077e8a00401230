/**
 * What a sync reports while it runs: the CLI prints these as one line per stage and wave,
 * the controller turns them into logs and metrics.
 */
import type { ImageChange, SyncCounts } from '../api/pipeline.js';
import type { Change } from '../apply/applier.js';
import type { HealthResult } from '../health/types.js';
import type { PruneResult } from '../prune/prune.js';
import type { KubeObject, Problem } from '../render/types.js';

export type ProgressEvent =
  | { type: 'commit'; commit: string }
  | { type: 'problem'; problem: Problem }
  | { type: 'notice'; message: string }
  /** `errors`: every resolution failure; `unresolved`: those with no digest at all (running unpinned). */
  | { type: 'images'; changes: ImageChange[]; errors: string[]; unresolved: string[] }
  | { type: 'stage'; label: string; objects: number }
  /** `changes`: what happened to each object of the stage (the dashboard shows the last action per object). */
  | { type: 'applied'; label: string; counts: SyncCounts; changes?: Change[] }
  | { type: 'waiting'; label: string; pending: number; total: number; first?: { object: KubeObject; health: HealthResult } }
  | { type: 'healthy'; label: string; objects: number; ms: number }
  | { type: 'pruning'; objects: number }
  | { type: 'pruned'; result: PruneResult };
