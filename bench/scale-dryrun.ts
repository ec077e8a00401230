/**
 * `tsx bench/scale-dryrun.ts`: what drift detection of objects DORIS may not read costs per
 * request kind (issue 15's profile): N Secrets, each checked by a server-side-apply dry-run
 * (what DORIS does today) and by an empty JSON merge-patch dry-run (which returns the same
 * resourceVersion), concurrency 32, alternating, 5 rounds each. Admin client, own namespace.
 */
import pLimit from 'p-limit';
import { kube, loadTestEnv } from '../test/env/testenv.js';

const n = Number(process.argv[2] ?? 280);
const env = loadTestEnv();
const api = await kube(env);
const ns = `bench-dryrun-${process.pid}`;
const limit = pLimit(32);
const path = (i: number) => `/api/v1/namespaces/${ns}/secrets/s-${i}`;
const secret = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: `s-${i}`, namespace: ns, labels: { app: 'bench' } },
  type: 'Opaque',
  data: { password: Buffer.from(`pw-${i}`).toString('base64') },
});
try {
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      limit(() =>
        api.request('PATCH', path(i), {
          query: { fieldManager: 'doris', force: true },
          contentType: 'application/apply-patch+yaml',
          body: JSON.stringify(secret(i)),
        }),
      ),
    ),
  );
  const ssa = () =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        limit(() =>
          api.request('PATCH', path(i), {
            query: { fieldManager: 'doris', force: true, dryRun: 'All' },
            contentType: 'application/apply-patch+yaml',
            body: JSON.stringify(secret(i)),
          }),
        ),
      ),
    );
  const merge = () =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        limit(() => api.request('PATCH', path(i), { query: { dryRun: 'All' }, contentType: 'application/merge-patch+json', body: '{}' })),
      ),
    );
  const times: Record<string, number[]> = { ssa: [], merge: [] };
  for (let round = 0; round < 5; round += 1) {
    for (const [name, fn] of [
      ['ssa', ssa],
      ['merge', merge],
    ] as const) {
      const t = performance.now();
      await fn();
      times[name]!.push(Math.round(performance.now() - t));
    }
  }
  process.stdout.write(`${n} Secrets, ms per round: ${JSON.stringify(times)}\n`);
} finally {
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
}
