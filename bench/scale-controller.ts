/**
 * `doris` (src/cli/main.ts) with every Kubernetes API request it makes counted by method,
 * for `npm run bench -- scale`: the API server's audit log records writes and dry-runs only,
 * not reads and watches. The counts are written as JSON to `$DORIS_BENCH_REQUEST_COUNTS`
 * every second. Nothing else changes.
 */
import { writeFileSync } from 'node:fs';
import { KubeHttp } from '../src/kube/http.js';

const file = process.env.DORIS_BENCH_REQUEST_COUNTS;
const counts: Record<string, number> = {};
const original = KubeHttp.prototype.request;
KubeHttp.prototype.request = function (this: KubeHttp, method: string, ...rest: unknown[]) {
  counts[method] = (counts[method] ?? 0) + 1;
  return (original as (...args: unknown[]) => unknown).call(this, method, ...rest);
} as typeof original;
if (file) setInterval(() => writeFileSync(file, JSON.stringify(counts)), 1000).unref();

await import('../src/cli/main.js');
