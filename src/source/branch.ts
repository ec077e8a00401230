/** A Pipeline's git branch as a sync source: the head of `spec.git.branch`, under `spec.git.path`. */
import type { GitSpec } from '../api/pipeline.js';
import { type GitSource, isCommitId } from './git.js';
import type { PipelineSource } from './source.js';

export class BranchSource implements PipelineSource {
  readonly path: string;

  constructor(
    readonly git: GitSource,
    private readonly spec: GitSpec,
  ) {
    this.path = spec.path;
  }

  /** A fetch started by `prefetch`: other fetches into the cache repository wait for it. */
  private prefetching: Promise<void> = Promise.resolve();

  resolve(): Promise<string> {
    return this.git.resolveBranch(this.spec.branch);
  }

  prefetch(commit: string): void {
    // GitHub names no commit (all zeros) when a push deletes the branch.
    if (!isCommitId(commit) || /^0+$/.test(commit)) return;
    this.prefetching = this.git.prefetchCommit(commit, this.spec.branch);
  }

  async fetchCommit(commit: string): Promise<void> {
    await this.prefetching;
    return this.git.fetchCommit(commit, this.spec.branch);
  }

  checkout(commit: string, parent: string): Promise<string> {
    return this.git.checkout(commit, parent);
  }

  async commitsBetween(from: string, to: string): Promise<string[] | undefined> {
    await this.prefetching;
    return this.git.commitsBetween(from, to, this.spec.branch);
  }
}
