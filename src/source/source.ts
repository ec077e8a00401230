/**
 * Where a sync's commits come from. The sync script (reconcile/sync.ts) is the same for every
 * source; only these differ:
 *
 * - a git branch (`spec.git`, source/branch.ts): the branch head, fetched from the git host;
 * - a fleet hub (`spec.hub`, source/hub.ts): the revision the hub chose for this device, as a
 *   verified bundle of the commit's wave folder, with the image digests it pinned.
 */
export interface CommitSource {
  /** The folder of a checkout that holds the waves. */
  readonly path: string;
  /** Makes `commit` available locally. */
  fetchCommit(commit: string): Promise<void>;
  /** Writes the files of `commit` into a new folder under `parent`; the caller removes it. */
  checkout(commit: string, parent: string): Promise<string>;
}

export interface PipelineSource extends CommitSource {
  /** The commit to converge to now. */
  resolve(): Promise<string>;
  /** The commits after `from` up to `to`, oldest first; undefined when history does not tell (replay: each-commit). */
  commitsBetween?(from: string, to: string): Promise<string[] | undefined>;
  /**
   * `resolve`, and the commit fetched in the same round trip: for a sync a push triggered,
   * whose commit is new (a resync's usually is not, and `resolve` alone is cheaper then).
   */
  fetchHead?(): Promise<string>;
}
