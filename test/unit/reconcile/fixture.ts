/**
 * What the sync tests share: a git source that serves a folder as every commit (counting its
 * fetches and checkouts), and the context of a Pipeline `main` in `doris-system`.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineSpec, type Pipeline } from '../../../src/api/pipeline.js';
import type { RenderCache } from '../../../src/render/cache.js';
import type { SyncContext } from '../../../src/reconcile/sync.js';
import type { CommitSource } from '../../../src/source/source.js';
import type { FakeKube } from '../../fake/kube.js';

/** Serves `files` (written under `work`) as every commit. */
export function folderSource(work: string, files: Record<string, string>): CommitSource & { fetches: number; checkouts: number } {
  const repo = mkdtempSync(join(work, 'repo-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  const source = {
    path: 'deploy',
    fetches: 0,
    checkouts: 0,
    fetchCommit: async () => {
      source.fetches += 1;
    },
    checkout: async (commit: string, dir: string) => {
      source.checkouts += 1;
      mkdirSync(dir, { recursive: true });
      const target = mkdtempSync(join(dir.replace(/\/$/, ''), `${commit}-`));
      cpSync(repo, target, { recursive: true });
      return target;
    },
  };
  return source;
}

/** The sync context of Pipeline `main` (seeded into `kube`), its spec `spec` on top of a git URL. */
export function syncContext(kube: FakeKube, work: string, options: { cache?: RenderCache; spec?: Record<string, unknown> } = {}): SyncContext {
  const pipeline = kube.seed({ apiVersion: 'v1', kind: 'Pipeline', metadata: { name: 'main', namespace: 'doris-system' } }) as unknown as Pipeline;
  return {
    client: kube,
    pipeline,
    spec: parsePipelineSpec({ git: { url: 'https://git.example.com/edge.git' }, ...options.spec }),
    credentials: {},
    workDir: work,
    controllerNamespace: 'doris-system',
    controllerDeployment: 'doris',
    progress: () => undefined,
    renderCache: options.cache,
  } as SyncContext;
}
