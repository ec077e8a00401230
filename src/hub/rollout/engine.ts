/**
 * The staged-rollout engine: a pure function from (policy, where the rollout stands, the
 * newest revision, the devices and what they report, the time, a command) to (where the
 * rollout stands now, which revision each device is told to run, what happened). The
 * leader's driver (driver.ts) runs it on every change; everything here is plain data.
 *
 * The rule, as users read it (docs/rollouts.md says the same):
 *
 * - A **revision** is a commit plus the digests of the tracked images: a new commit OR a new
 *   digest (same commit) starts a rollout at the first stage.
 * - A device belongs to the FIRST stage whose selector matches its labels; devices no stage
 *   selects form an implicit last stage, `(rest)` (minReady 100%, maxFailures 0, soak 0s).
 *   A device whose labels change follows its new stage's revision at once.
 * - A device is **offline** when no hub replica holds its long-poll (not `connected`) and it
 *   has not been heard from for `offlineAfterMs` (15 minutes), or never was (presence.ts).
 *   Offline devices neither block nor fail a
 *   stage: a stage's size is its ONLINE devices. They are still told their stage's revision
 *   and go straight to it when back.
 * - A stage is **ready** when at least minReady of its online devices report Ready=True on the
 *   revision (a percent rounds UP: 50% of 3 is 2; a count above the stage's size means all of
 *   it). It is **done** when it has stayed ready for `soak` and the rollout is not paused;
 *   a stage that drops below minReady during its soak starts the soak again when ready again.
 *   Then the next stage gets the revision. A stage with no devices, or with every device
 *   offline, is skipped at once (an Event says so).
 * - A device **fails** when it reports Ready=False on the revision with a failure reason (not
 *   Progressing, Interrupted or Suspended). More failures than maxFailures (a percent rounds
 *   DOWN: 10% of 5 is 0, so one failure halts) **halts** the rollout: later stages keep what
 *   they run (the last good revision); with `autoRollback` the halted stage's devices get the
 *   last good revision back. A halted rollout stays halted until a newer revision, `resume`
 *   (retry the stage) or `promote` (accept it and go on).
 * - A newer revision during a rollout supersedes it and starts again at the first stage;
 *   stages that already got the older revision keep it until the newer one reaches them.
 * - `pause` freezes the rollout: no stage starts, completes or halts and a newer revision
 *   waits, until `resume` (soak time counts while paused, but a stage completes only once
 *   resumed). `promote` marks the current stage done now (also overriding a halt). `abort`
 *   gives every device the last good revision and halts; `resume` then restarts at stage 1.
 * - When every stage is done the rollout is Complete and its revision is the last good one.
 * - Without `spec.rollout` every device gets the newest revision at once. With a policy but
 *   no rollout recorded yet (a new Fleet, or a policy just added), the current revision is
 *   taken as complete: there is nothing older to protect; staging starts with the next one.
 */
import { offlineAfterMs, type Revision, type RolloutPhase, type RolloutStatus, type StageStatus } from '../../api/hub.js';
import { type RolloutReason, RolloutReasons } from '../../api/reasons.js';
import { formatAmount, implicitStageName, type RolloutPolicy, required, selects, type Stage, tolerated } from './policy.js';

export type RolloutCommand = 'promote' | 'pause' | 'resume' | 'abort';

export type { RolloutPhase, RolloutStatus, StageStatus };

/** What the engine needs of a Device. */
export interface DeviceView {
  name: string;
  labels: Readonly<Record<string, string>>;
  report?: { revision?: string; ready: 'True' | 'False' | 'Unknown'; reason: string };
  /** Last contact (RFC 3339); absent: never seen. */
  lastSeen?: string;
  /** A hub replica holds its long-poll now: online whatever `lastSeen` says. */
  connected?: boolean;
  /**
   * The revision the hub last served it (`status.servedRevision`): a report counts toward a
   * revision only when the hub served the device that revision. Absent: not known to the
   * caller, and the report is taken as it claims.
   */
  servedRevision?: string;
}

export interface Transition {
  reason: RolloutReason;
  type: 'Normal' | 'Warning';
  message: string;
  stage?: string;
}

export interface StepInput {
  /** Parsed `spec.rollout` (undefined: no policy). */
  policy: RolloutPolicy | undefined;
  /** `Fleet.status.rollout` as last written (undefined: none yet). */
  state: RolloutStatus | undefined;
  /** `Fleet.status.revision`: the newest revision resolved upstream. */
  newest: Pick<Revision, 'id'> | undefined;
  devices: readonly DeviceView[];
  now: Date;
  command?: RolloutCommand;
}

export interface StepResult {
  state: RolloutStatus | undefined;
  /** Device name → revision id; a device without an entry has no target yet. */
  targets: Map<string, string>;
  /** Device name → its stage's name (absent without a policy). */
  stageOf: Map<string, string>;
  transitions: Transition[];
  /** When time alone may change the outcome (a soak ending, a device going offline): run again then. */
  wakeAt?: Date;
}

/** Reasons a device reports while not (yet) done, which are not failures. */
const notFailures = new Set(['Progressing', 'Interrupted', 'Suspended']);

const implicitStage: Stage = { name: implicitStageName, selector: {}, minReady: { percent: 100 }, maxFailures: { count: 0 }, soak: '0s', soakMs: 0 };

interface DeviceFacts {
  offline: boolean;
  updated: boolean;
  ready: boolean;
  failed: boolean;
  /** When it turns offline (ms), if online. */
  offlineAt?: number;
}

function factsOf(device: DeviceView, revision: string, now: number): DeviceFacts {
  const seen = device.lastSeen ? Date.parse(device.lastSeen) : Number.NaN;
  const offline = device.connected !== true && (!Number.isFinite(seen) || now - seen > offlineAfterMs);
  const report = device.report;
  // A device may claim any revision; the hub knows which one it served.
  const served = device.servedRevision === undefined || device.servedRevision === revision;
  const updated = !offline && served && report?.revision === revision;
  return {
    offline,
    updated,
    ready: updated && report?.ready === 'True',
    failed: updated && report?.ready === 'False' && !notFailures.has(report.reason),
    offlineAt: offline || device.connected === true ? undefined : seen + offlineAfterMs + 1,
  };
}

const short = (id: string | undefined): string => id ?? 'none';

/** Revision ids the rollout refers to: `status.revisions` must keep them (never garbage-collected while referenced). */
export function referencedRevisions(state: RolloutStatus | undefined): Set<string> {
  const ids = new Set<string>();
  if (!state) return ids;
  ids.add(state.revision);
  if (state.lastGood) ids.add(state.lastGood);
  for (const stage of state.stages) if (stage.revision) ids.add(stage.revision);
  return ids;
}

/** One step of the rollout. Pure: the same input gives the same output, and a second step on its own output changes nothing. */
export function step(input: StepInput): StepResult {
  const now = input.now.getTime();
  const iso = input.now.toISOString();
  const transitions: Transition[] = [];
  const emit = (reason: RolloutReason, message: string, stage?: string, type: 'Normal' | 'Warning' = 'Normal') =>
    transitions.push({ reason, type, message, stage });
  const targets = new Map<string, string>();
  const stageOf = new Map<string, string>();
  const previous = input.state;
  const newestId = input.newest?.id ?? previous?.revision;
  if (newestId === undefined) return { state: undefined, targets, stageOf, transitions };

  // Without a policy: every device gets the newest revision at once.
  if (!input.policy) {
    for (const device of input.devices) targets.set(device.name, newestId);
    const state: RolloutStatus = {
      state: 'Complete',
      revision: newestId,
      lastGood: newestId,
      stageIndex: 0,
      stages: [],
      startedAt: previous?.revision === newestId ? previous.startedAt : iso,
      completedAt: previous?.revision === newestId ? (previous.completedAt ?? iso) : iso,
      message: `no rollout policy: every device runs ${newestId}`,
      ...(previous?.lastCommand ? { lastCommand: previous.lastCommand } : {}),
    };
    if (previous?.revision !== newestId || previous.state !== 'Complete')
      emit(RolloutReasons.RolloutCompleted, `${newestId} goes to every device at once (no rollout policy)`);
    if (input.command) emit(RolloutReasons.RolloutCommandIgnored, `${input.command}: the Fleet has no rollout policy`);
    return { state, targets, stageOf, transitions };
  }

  const stages: Stage[] = [...input.policy.stages, implicitStage];
  const autoRollback = input.policy.autoRollback;

  // Which stage each device is in: the first whose selector matches.
  const members: DeviceView[][] = stages.map(() => []);
  for (const device of input.devices) {
    const index = stages.findIndex((s) => selects(s.selector, device.labels));
    members[index]?.push(device);
    stageOf.set(device.name, stages[index]?.name ?? implicitStageName);
  }

  let state: RolloutStatus;
  if (!previous) {
    // Nothing older to protect: the current revision is taken as rolled out.
    state = {
      state: 'Complete',
      revision: newestId,
      lastGood: newestId,
      stageIndex: stages.length,
      stages: stages.map((s) => emptyStage(s.name, newestId, iso)),
      startedAt: iso,
      completedAt: iso,
      message: '',
    };
    emit(
      RolloutReasons.RolloutCompleted,
      `${newestId} is the first revision under this rollout policy: it goes to every device at once; staging starts with the next revision`,
    );
  } else {
    state = structuredClone(previous);
    const baseline = state.state === 'Complete' ? state.revision : state.lastGood;
    // The policy may have changed: stages are matched by name; a new one keeps the baseline.
    state.stages = stages.map((s) => {
      const kept = previous.stages.find((p) => p.name === s.name);
      if (kept) return { ...kept };
      return emptyStage(s.name, baseline, state.state === 'Complete' ? iso : undefined);
    });
  }

  // Commands first: they act on where the rollout stood.
  if (input.command) applyCommand(state, input.command, iso, emit);

  // A newer revision supersedes the rollout (a paused rollout lets it wait until resumed).
  if (newestId !== state.revision && state.state !== 'Paused') {
    const wasRunning = state.state === 'Progressing';
    const at = state.stage;
    if (state.state === 'Complete') state.lastGood = state.revision;
    const superseded = state.revision;
    state.revision = newestId;
    state.state = 'Progressing';
    state.startedAt = iso;
    for (const key of ['completedAt', 'haltedAt', 'haltedBecause', 'pausedAt', 'aborted', 'rolledBack'] as const) delete state[key];
    for (const s of state.stages) resetStage(s);
    emit(
      RolloutReasons.RolloutStarted,
      wasRunning
        ? `${newestId} supersedes ${superseded} (which had reached stage ${at}) and starts at the first stage`
        : `${newestId} starts at the first stage (last good: ${short(state.lastGood)})`,
    );
  }

  // What each device says of the rollout's revision (fixed from here on), once per step: 10,000 devices cost a few ms.
  const facts = members.map((devices) => devices.map((d) => factsOf(d, state.revision, now)));
  const wake: number[] = [];
  if (state.state === 'Progressing') advance(state, stages, facts, autoRollback, now, iso, emit, wake);

  // Counts of every stage, whatever the state.
  stages.forEach((_stage, i) => {
    const status = state.stages[i] as StageStatus;
    Object.assign(status, count(facts[i] ?? []));
    for (const device of members[i] ?? []) if (status.revision) targets.set(device.name, status.revision);
  });

  const current = state.stages.findIndex((s) => !s.completedAt);
  state.stageIndex = current < 0 ? state.stages.length : current;
  if (current < 0) delete state.stage;
  else state.stage = state.stages[current]?.name;
  state.message = describe(state, stages);
  // A loop, not Math.min(...wake): a stage may hold more devices than a call may take arguments.
  let earliest = Number.POSITIVE_INFINITY;
  for (const at of wake) if (at < earliest) earliest = at;
  const wakeAt = Number.isFinite(earliest) ? new Date(earliest) : undefined;
  return { state, targets, stageOf, transitions, ...(wakeAt ? { wakeAt } : {}) };
}

function emptyStage(name: string, revision: string | undefined, completedAt: string | undefined): StageStatus {
  return { name, ...(revision ? { revision } : {}), devices: 0, updated: 0, ready: 0, failed: 0, offline: 0, ...(completedAt ? { completedAt } : {}) };
}

function resetStage(s: StageStatus): void {
  for (const key of ['startedAt', 'readyAt', 'completedAt', 'skipped'] as const) delete s[key];
}

function count(facts: DeviceFacts[]): Pick<StageStatus, 'devices' | 'updated' | 'ready' | 'failed' | 'offline'> {
  return {
    devices: facts.length,
    updated: facts.filter((f) => f.updated).length,
    ready: facts.filter((f) => f.ready).length,
    failed: facts.filter((f) => f.failed).length,
    offline: facts.filter((f) => f.offline).length,
  };
}

type Emit = (reason: RolloutReason, message: string, stage?: string, type?: 'Normal' | 'Warning') => void;

function applyCommand(state: RolloutStatus, command: RolloutCommand, iso: string, emit: Emit): void {
  const ignore = (why: string) => emit(RolloutReasons.RolloutCommandIgnored, `${command}: ${why}`);
  const current = state.stages.find((s) => !s.completedAt);
  switch (command) {
    case 'pause':
      if (state.state !== 'Progressing') {
        ignore(`the rollout is ${state.state}`);
        return;
      }
      state.state = 'Paused';
      state.pausedAt = iso;
      emit(RolloutReasons.RolloutPaused, `rollout of ${state.revision} paused at stage ${current?.name}`);
      return;
    case 'resume':
      if (state.state === 'Paused') {
        state.state = 'Progressing';
        delete state.pausedAt;
        emit(RolloutReasons.RolloutResumed, `rollout of ${state.revision} resumed at stage ${current?.name}`);
        return;
      }
      if (state.state === 'Halted') {
        state.state = 'Progressing';
        if (state.aborted) {
          for (const s of state.stages) resetStage(s);
          emit(RolloutReasons.RolloutResumed, `rollout of ${state.revision} restarts at the first stage after abort`);
        } else {
          if (current) {
            delete current.readyAt;
            delete current.startedAt; // started again: its devices get the revision again
          }
          emit(RolloutReasons.RolloutResumed, `rollout of ${state.revision} retries stage ${current?.name}`);
        }
        for (const key of ['haltedAt', 'haltedBecause', 'aborted', 'rolledBack'] as const) delete state[key];
        return;
      }
      ignore(`the rollout is ${state.state}`);
      return;
    case 'promote':
      if (state.state === 'Complete' || !current) {
        ignore('the rollout is Complete');
        return;
      }
      if (state.aborted) {
        ignore('the rollout was aborted; resume restarts it');
        return;
      }
      current.revision = state.revision;
      current.startedAt ??= iso;
      current.completedAt = iso;
      current.skipped = 'promoted';
      if (state.state === 'Halted') state.state = 'Progressing';
      for (const key of ['haltedAt', 'haltedBecause', 'rolledBack'] as const) delete state[key];
      emit(RolloutReasons.StagePromoted, `stage ${current.name} promoted by hand: the next stage gets ${state.revision}`, current.name);
      return;
    case 'abort':
      if (state.state === 'Complete') {
        ignore('the rollout is Complete');
        return;
      }
      if (!state.lastGood) {
        ignore('there is no last good revision to go back to');
        return;
      }
      for (const s of state.stages) s.revision = state.lastGood;
      state.state = 'Halted';
      state.haltedAt = iso;
      state.aborted = true;
      delete state.pausedAt;
      emit(RolloutReasons.RolloutAborted, `rollout of ${state.revision} aborted: every device goes back to ${state.lastGood}`, undefined, 'Warning');
      return;
  }
}

/** Moves a Progressing rollout as far as the devices allow, stage by stage. */
function advance(
  state: RolloutStatus,
  stages: Stage[],
  factsByStage: DeviceFacts[][],
  autoRollback: boolean,
  now: number,
  iso: string,
  emit: Emit,
  wake: number[],
): void {
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i] as Stage;
    const status = state.stages[i] as StageStatus;
    if (status.completedAt) continue;
    const facts = factsByStage[i] ?? [];
    const online = facts.filter((f) => !f.offline);
    if (!status.startedAt) {
      status.startedAt = iso;
      status.revision = state.revision;
      if (online.length > 0) emit(RolloutReasons.StageStarted, `stage ${stage.name}: ${online.length} device(s) get ${state.revision}`, stage.name);
    }
    if (online.length === 0) {
      status.completedAt = iso;
      status.skipped = facts.length === 0 ? 'empty' : 'offline';
      emit(
        RolloutReasons.StageSkipped,
        facts.length === 0
          ? `stage ${stage.name} has no devices: skipped`
          : `stage ${stage.name}: all ${facts.length} device(s) are offline: skipped (they get ${state.revision} when they return)`,
        stage.name,
      );
      continue;
    }
    const failed = online.filter((f) => f.failed).length;
    const allowed = tolerated(stage.maxFailures, online.length);
    if (failed > allowed) {
      state.state = 'Halted';
      state.haltedAt = iso;
      state.haltedBecause = `stage ${stage.name}: ${failed} of ${online.length} online device(s) failed on ${state.revision} (maxFailures ${formatAmount(stage.maxFailures)} allows ${allowed}): later stages keep ${short(state.lastGood)}`;
      emit(RolloutReasons.RolloutHalted, state.haltedBecause, stage.name, 'Warning');
      if (autoRollback && state.lastGood && state.lastGood !== state.revision) {
        status.revision = state.lastGood;
        state.rolledBack = true;
        emit(RolloutReasons.RolledBack, `stage ${stage.name}: its devices go back to ${state.lastGood}`, stage.name, 'Warning');
      }
      return;
    }
    const ready = online.filter((f) => f.ready).length;
    const needed = required(stage.minReady, online.length);
    for (const f of online) if (f.offlineAt !== undefined) wake.push(f.offlineAt);
    if (ready < needed) {
      delete status.readyAt; // a soak restarts when the stage is ready again
      return;
    }
    if (!status.readyAt) {
      status.readyAt = iso;
      if (stage.soakMs > 0)
        emit(
          RolloutReasons.StageReady,
          `stage ${stage.name}: ${ready} of ${online.length} online device(s) ready on ${state.revision}; soaking ${stage.soak}`,
          stage.name,
        );
    }
    const soakedAt = Date.parse(status.readyAt) + stage.soakMs;
    if (now < soakedAt) {
      wake.push(soakedAt);
      return;
    }
    status.completedAt = iso;
    emit(
      RolloutReasons.StageCompleted,
      `stage ${stage.name}: ${ready} of ${online.length} online device(s) ready on ${state.revision}${stage.soakMs > 0 ? ` for ${stage.soak}` : ''}`,
      stage.name,
    );
  }
  state.state = 'Complete';
  state.completedAt = iso;
  state.lastGood = state.revision;
  emit(RolloutReasons.RolloutCompleted, `${state.revision} reached every stage`);
}

function describe(state: RolloutStatus, stages: Stage[]): string {
  const current = state.stages[state.stageIndex];
  const stage = stages[state.stageIndex];
  switch (state.state) {
    case 'Complete':
      return `${state.revision} runs on every stage`;
    case 'Paused':
      return `paused at stage ${current?.name} (${state.revision}); doris fleet resume continues`;
    case 'Halted':
      return state.aborted
        ? `aborted: every device goes back to ${short(state.lastGood)}; a newer revision or doris fleet resume restarts`
        : `halted: ${state.haltedBecause ?? `at stage ${current?.name}`}${state.rolledBack ? `; the stage went back to ${state.lastGood}` : ''}`;
    case 'Progressing':
      if (!current || !stage) return `rolling out ${state.revision}`;
      if (current.readyAt) return `stage ${current.name}: ready, soaking ${stage.soak} since ${current.readyAt}`;
      return `stage ${current.name}: ${current.ready} of ${current.devices - current.offline} online device(s) ready on ${state.revision}, ${required(stage.minReady, current.devices - current.offline)} needed`;
  }
}
