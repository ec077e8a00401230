/**
 * Reason codes: one closed set, used in Pipeline status conditions, Events, metric labels,
 * CLI output and the dashboard. A reason says *why* a Pipeline is where it is; the message
 * beside it says which object and what to do.
 */
export const Reasons = {
  /** The whole sync succeeded: every wave applied and healthy, prune done. */
  Succeeded: 'Succeeded',
  /** A sync is in progress. */
  Progressing: 'Progressing',
  /** The git source could not be resolved or fetched. */
  ArtifactFailed: 'ArtifactFailed',
  /** The repository could not be rendered (layout, YAML, limits). Nothing was applied. */
  BuildFailed: 'BuildFailed',
  /**
   * The API server refused an object of the commit in a dry-run, before anything of the commit
   * was written (validation, unknown kind, missing namespace, RBAC).
   */
  ValidationFailed: 'ValidationFailed',
  /** An object the commit declares belongs to another Pipeline; it was not touched. */
  OwnershipConflict: 'OwnershipConflict',
  /** The API server refused an object (validation, immutable field, RBAC). */
  ApplyFailed: 'ApplyFailed',
  /** A wave did not become healthy before its timeout, or an object failed. */
  HealthCheckFailed: 'HealthCheckFailed',
  /** A delete was refused or not confirmed; the object stays in the inventory. */
  PruneFailed: 'PruneFailed',
  /** Prune would delete more than the guard allows. */
  PruneGuardTriggered: 'PruneGuardTriggered',
  /** An image digest could not be resolved; the last known digest is kept. */
  ImageResolveFailed: 'ImageResolveFailed',
  /** The Pipeline's spec is invalid; the message names the field. */
  InvalidSpec: 'InvalidSpec',
  /** `spec.suspend` is true. */
  Suspended: 'Suspended',
  /** The sync was stopped by a shutdown signal before it finished. */
  Interrupted: 'Interrupted',
  /** A Secret the Pipeline references (git credentials) is missing, unreadable or lacks its keys. */
  CredentialsFailed: 'CredentialsFailed',
  /** The Pipeline's status could not be written (a conflict, a refusal); the sync's result is not recorded. */
  StatusWriteFailed: 'StatusWriteFailed',
  /** Something around the sync failed (reading the Pipeline, an unexpected error); the message says what. */
  ReconcileFailed: 'ReconcileFailed',
} as const;

export type Reason = (typeof Reasons)[keyof typeof Reasons];

/**
 * Reasons of Events that report an action rather than a state (they never appear in a
 * condition). An Event's reason is a `Reason` or one of these, nothing else.
 */
export const ActionReasons = {
  /** Objects that left the repository were deleted. */
  Pruned: 'Pruned',
  /** A tracked image's digest changed (old -> new). */
  ImageUpdated: 'ImageUpdated',
} as const;

export type ActionReason = (typeof ActionReasons)[keyof typeof ActionReasons];

/** Reasons of a Fleet's rollout transitions (Events on the Fleet, metric labels, `doris fleet status`). */
export const RolloutReasons = {
  /** A new revision (a commit or an image digest) started at the first stage. */
  RolloutStarted: 'RolloutStarted',
  /** A stage's devices were given the revision. */
  StageStarted: 'StageStarted',
  /** A stage met minReady; its soak began. */
  StageReady: 'StageReady',
  /** A stage met minReady and soaked; the next stage gets the revision. */
  StageCompleted: 'StageCompleted',
  /** A stage had no devices, or all of them were offline: it did not wait. */
  StageSkipped: 'StageSkipped',
  /** `doris fleet promote`: the current stage was marked done without waiting. */
  StagePromoted: 'StagePromoted',
  /** More devices failed on the revision than maxFailures allows; later stages keep what they run. */
  RolloutHalted: 'RolloutHalted',
  /** autoRollback: the halted stage's devices were given the last good revision back. */
  RolledBack: 'RolledBack',
  RolloutPaused: 'RolloutPaused',
  RolloutResumed: 'RolloutResumed',
  /** `doris fleet abort`: every device was given the last good revision back. */
  RolloutAborted: 'RolloutAborted',
  /** Every stage has the revision: it is the new last good revision. */
  RolloutCompleted: 'RolloutCompleted',
  /** A command that does not apply in the rollout's state (promote of a complete rollout). */
  RolloutCommandIgnored: 'RolloutCommandIgnored',
} as const;

export type RolloutReason = (typeof RolloutReasons)[keyof typeof RolloutReasons];
export type EventReason = Reason | ActionReason | RolloutReason;
