/** Figures of a process from /proc (Linux), for the benchmarks. */
import { readdirSync, readFileSync } from 'node:fs';

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile), in bytes; 0 when absent. */
export function statusBytes(pid: number | 'self', field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
}

/** The same, in MiB. */
export function statusMiB(pid: number | 'self', field: string): number {
  return statusBytes(pid, field) / (1024 * 1024);
}

/** CPU seconds process `pid` has used, all its threads (/proc/PID/task/TID/schedstat, nanoseconds); undefined when it is gone. */
export function processCpuS(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e9;
  } catch {
    return undefined;
  }
}
