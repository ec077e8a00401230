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
   * Starts fetching `commit`, named by a push notification, while `resolve` asks for the
   * branch; never fails (what `resolve` answers is still what is synced, and fetched).
   */
  prefetch?(commit: string): void;
}
