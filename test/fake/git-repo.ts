/**
 * A git repository in a scratch folder, for unit tests of what reads git (the real git CLI,
 * no server): commit files, get the commit's sha. Its config ignores the machine's and the
 * user's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class LocalRepo {
  constructor(
    /** The work tree; created, with `git init`, on the branch `main`. */
    readonly dir: string,
    /** HOME of the git processes. */
    private readonly home: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.git(['init', '-q', '-b', 'main']);
  }

  git(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return execFileSync('git', args, {
      cwd: this.dir,
      env: {
        PATH: process.env.PATH,
        HOME: this.home,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@e',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@e',
        ...env,
      },
    })
      .toString()
      .trim();
  }

  /** Writes (or with `null` removes) files and commits them; returns the commit's sha. */
  commit(files: Record<string, string | Buffer | null>, date = '2020-01-01T00:00:00Z'): string {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    this.git(['add', '-A']);
    this.git(['commit', '-q', '-m', date, '--allow-empty'], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    return this.git(['rev-parse', 'HEAD']);
  }
}
