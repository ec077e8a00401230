/** A Pipeline's git branch as a sync source: the head of `spec.git.branch`, under `spec.git.path`. */
import type { GitSpec } from '../api/pipeline.js';
import type { GitSource } from './git.js';
import type { PipelineSource } from './source.js';

export class BranchSource implements PipelineSource {
  readonly path: string;

  constructor(
    readonly git: GitSource,
    private readonly spec: GitSpec,
  ) {
    this.path = spec.path;
  }

  resolve(): Promise<string> {
    return this.git.resolveBranch(this.spec.branch);
  }

  async fetchHead(): Promise<string> {
    // Any trouble (git failed, or FETCH_HEAD is another branch's): ask as a poll does, which
    // also says what went wrong.
    const head = await this.git.fetchBranchHead(this.spec.branch).catch(() => undefined);
    return head ?? this.resolve();
  }

  fetchCommit(commit: string): Promise<void> {
    return this.git.fetchCommit(commit, this.spec.branch);
  }

  checkout(commit: string, parent: string): Promise<string> {
    return this.git.checkout(commit, parent);
  }

  commitsBetween(from: string, to: string): Promise<string[] | undefined> {
    return this.git.commitsBetween(from, to, this.spec.branch);
  }
}
