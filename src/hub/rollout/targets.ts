/**
 * Which revision a device is told to run, as every hub replica (leader or not) answers it:
 * read from the Fleet alone — `spec.rollout` (which stage the device's labels put it in) and
 * `status.rollout` (which revision that stage runs), both written before any device is told.
 * Followers never run the engine; they answer from what the leader wrote, so every replica
 * tells a device the same thing, and a relabelled device follows its new stage at once.
 *
 * No policy, or no rollout recorded yet: the newest revision (the engine takes the first
 * revision under a policy as rolled out). An invalid policy: the stage last written to the
 * Device (`status.stage`) keeps its revision, else the last good revision. A revision no longer in `status.revisions`: none (the device
 * keeps what it runs) — the upstream poller keeps every revision a rollout references.
 */
import { z } from 'zod';
import type { Device, Fleet, Revision } from '../../api/hub.js';
import type { RolloutStatus } from './engine.js';
import { implicitStageName, parseRolloutPolicy, type RolloutPolicy, selects } from './policy.js';

const timestamp = z.string().max(64).optional();

const stageStatusSchema = z
  .object({
    name: z.string().max(63),
    revision: z.string().max(64).optional(),
    devices: z.number().int().min(0).default(0),
    updated: z.number().int().min(0).default(0),
    ready: z.number().int().min(0).default(0),
    failed: z.number().int().min(0).default(0),
    offline: z.number().int().min(0).default(0),
    startedAt: timestamp,
    readyAt: timestamp,
    completedAt: timestamp,
    skipped: z.enum(['empty', 'offline', 'promoted']).optional(),
  })
  .strip();

const rolloutStatusSchema = z
  .object({
    state: z.enum(['Progressing', 'Halted', 'Complete', 'Paused']),
    revision: z.string().max(64),
    lastGood: z.string().max(64).optional(),
    stage: z.string().max(63).optional(),
    stageIndex: z.number().int().min(0).default(0),
    stages: z.array(stageStatusSchema).max(17),
    startedAt: z.string().max(64),
    completedAt: timestamp,
    pausedAt: timestamp,
    haltedAt: timestamp,
    haltedBecause: z.string().max(1024).optional(),
    aborted: z.boolean().optional(),
    rolledBack: z.boolean().optional(),
    message: z.string().max(4096).default(''),
    lastCommand: z.string().max(128).optional(),
  })
  .strip();

/** `Fleet.status.rollout` as stored, or undefined when absent or not of this shape (it is open in the CRD). */
export function parseRolloutStatus(raw: unknown): RolloutStatus | undefined {
  if (raw === undefined || raw === null) return undefined;
  const parsed = rolloutStatusSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  // Absent optional keys stay absent, so that a stored status and the engine's output compare equal.
  return JSON.parse(JSON.stringify(parsed.data)) as RolloutStatus;
}

interface Parsed {
  policy: RolloutPolicy | undefined;
  invalid: boolean;
  state: RolloutStatus | undefined;
}

/** Parsed per Fleet object: the informer replaces the object on every change, so this never goes stale. */
const parsedByFleet = new WeakMap<Fleet, Parsed>();

function parsed(fleet: Fleet): Parsed {
  let entry = parsedByFleet.get(fleet);
  if (!entry) {
    let policy: RolloutPolicy | undefined;
    let invalid = false;
    try {
      policy = parseRolloutPolicy((fleet.spec as { rollout?: unknown } | undefined)?.rollout);
    } catch {
      invalid = true;
    }
    entry = { policy, invalid, state: parseRolloutStatus(fleet.status?.rollout) };
    parsedByFleet.set(fleet, entry);
  }
  return entry;
}

/** The name of the stage a device with these labels belongs to: the first whose selector matches, else the implicit last one. */
export function stageFor(policy: RolloutPolicy, labels: Readonly<Record<string, string>>): string {
  return policy.stages.find((s) => selects(s.selector, labels))?.name ?? implicitStageName;
}

/** The revision id `device` is told to run, or undefined while it has none. */
export function targetRevisionId(fleet: Fleet, device: Pick<Device, 'metadata' | 'status'>): string | undefined {
  const newest = fleet.status?.revision?.id;
  const { policy, invalid, state } = parsed(fleet);
  if (!state) return newest;
  if (invalid) {
    // The selectors cannot be read: each device stays in the stage last written to it.
    const last = state.stages.find((s) => s.name === device.status?.stage);
    return last?.revision ?? state.lastGood ?? newest;
  }
  if (!policy) return newest;
  const name = stageFor(policy, device.metadata.labels ?? {});
  const stage = state.stages.find((s) => s.name === name);
  if (stage) return stage.revision;
  // A stage the leader has not recorded yet (the policy just changed): what the fleet ran before.
  return state.state === 'Complete' ? state.revision : state.lastGood;
}

/** The Revision `device` is told to run (FleetCache.targetFor delegates here). */
export function rolloutTarget(fleet: Fleet | undefined, device: Pick<Device, 'metadata' | 'status'>): Revision | undefined {
  if (!fleet) return undefined;
  const id = targetRevisionId(fleet, device);
  if (!id) return undefined;
  const newest = fleet.status?.revision;
  if (newest?.id === id) return newest;
  return fleet.status?.revisions?.find((r) => r.id === id);
}
