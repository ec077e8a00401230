/**
 * V8 flags DORIS runs with in its image (the Dockerfile's ENTRYPOINT repeats them; a unit test
 * checks that it does). The shipped Deployment limits the container to 256 Mi, and a repository
 * is untrusted input: memory must stay under the limit by setting, not by how lazily the
 * garbage collector happens to run.
 *
 * `--max-semi-space-size=1`: a 1 MiB young generation (the default is 16 MiB per semi-space).
 * 2 MiB kept peak RSS of a 1,000-object sync at about 85 MiB instead of 106 MiB (bench/, issue
 * 6): short-lived objects are collected sooner, which suits a small edge device. 1 MiB alone
 * lowers nothing more; with the next flag it does (below).
 *
 * `--incremental-marking-hard-trigger=10`: V8 lets the old generation grow by at least 8 MiB
 * past what its last full collection left before it collects again, and at 1,000 objects what
 * is live is only 12 MiB: most of the heap's committed pages were garbage waiting. With this
 * flag V8 starts marking (concurrently, on another thread) as soon as the old generation holds
 * a tenth of its limit, so the heap stays near its live size. Measured with `npm run bench --
 * scale --points 1000 --pipelines 0` (issue 15, same machine, fresh test environment, one run
 * each, back to back; 2026-12-02): peak RSS of the 1,000-object sync 68.1 MiB without either
 * flag change, 65.2 with this flag alone, 63.7 and 63.7 with both (`doris run` serving the
 * webhooks: 84.3, 79.6, 77.0 and 78.5 MiB); no-op resync 0.12, 0.13, 0.16 and 0.17 s (DORIS's
 * CPU 0.07, 0.12, 0.15 and 0.15 s); webhook to applied (median of 7) 0.22, 0.25, 0.26 and
 * 0.27 s. It costs CPU more than wall time where DORIS waits on the API server: a cold sync
 * took 17.9 s without and 17.6 s with it. It costs more as the heap grows: the no-op of 10,000
 * objects took 1.78 s with both, 1.22 s without (DORIS's CPU 2.26 s and 1.16 s; target 2 s).
 * So DORIS turns it off while the heap after a full collection is large, and back on when it
 * is small again (src/runtime/marking.ts): the flag here is the setting for small heaps.
 * Earlier, when a no-op resync took 0.30 s, the pair cost it 0.19 s more (and the webhook
 * 0.08 s), which is why it was not the default then.
 *
 * Marking early needs headroom below the old generation's cap: a commit whose parse needs
 * most of the heap makes V8 end the process ("ineffective mark-compacts near heap limit")
 * sooner than it otherwise would. Hence the parse cache's byte bound (`FileCache`).
 *
 * `--max-old-space-size=128`: without a cap V8 sizes the old generation from the machine's
 * memory (gigabytes) and lets garbage pile up far past the container's limit before collecting
 * it. Commits within every render limit (docs/adr/0002-yaml-1-1.md) showed it: 31 files of a
 * 1 MiB double-quoted string, which the YAML parser builds a character at a time, took a
 * controller retrying them to 370 MiB peak RSS, 500,000 YAML nodes of small keys to 297 MiB —
 * an OOM kill on every retry. With the cap V8 collects before it grows the heap (and grows it
 * by a small factor), and the same controller peaks at 201 MiB, 178 with today's flags and a
 * bounded parse cache (test/e2e/hostile_memory_test.ts, through tsx, which adds some 35 MiB the
 * image does not pay).
 * Why 128: what the rest of the container needs is about 50 MiB of node itself outside the
 * heap, a few MiB of young generation and Buffers, and the git processes DORIS starts, which
 * count against the same limit; 128 leaves room for all of them under 256. Below it, the live
 * data of the largest commits the render limits allow gets close (the 31 MiB of double-quoted
 * strings need more than 64 MiB of heap while parsed). A 1,000-object sync (`npm run bench --
 * --reps 1`, same machine, one run each) is unaffected: cold sync 19.4 s with the cap, 19.9 s
 * without; peak RSS 79.8 MiB with, 86.0 MiB without; no-op resync 0.75 s and 0.87 s. A sync
 * whose live data needs more than 128 MiB still ends the process (V8's "heap limit" error,
 * which at least says why, where an OOM kill says nothing): raise this flag together with the
 * Deployment's memory limit.
 *
 * `--no-opt`: no TurboFan, V8's optimizing compiler (the interpreter and its baseline compiler
 * still run). Once a push parses only the files it changed and a resync parses nothing, what
 * DORIS does is wait on the API server and git, and call node's native JSON, TLS and hashing;
 * the compiler's own code and the code it makes cost resident memory for nothing. Measured
 * with `npm run bench -- scale --points 1000 --pipelines 0` (issue 15, same machine, one run
 * each, back to back): peak RSS of a 1,000-object sync 80.0 MiB with TurboFan, 69.1 without;
 * no-op resync 0.31 s and 0.27 s, webhook to applied (median of 7) 0.28 s and 0.27 s, cold
 * sync 17.8 s and 18.3 s (health waits dominate it). The hub keeps the compiler: it answers
 * thousands of devices.
 *
 * `--no-maglev`: V8's mid-tier optimizing compiler, off by default in node 20 (where every
 * figure here is measured) and on by default in node 24 (the image's base). `--no-opt` turns
 * off TurboFan only, so without this flag the image would compile what the measurements never
 * did.
 *
 * Not used (same bench, one run each; the CPU is DORIS's own during the no-op):
 * - `--no-sparkplug` (the interpreter alone, no baseline compiler): peak RSS 65.8–67.4 MiB in
 *   five runs against 67.3–69.2 in seven (the baseline code of the ~800 functions a sync runs
 *   is 1.2 MiB of heap), the no-op's CPU unchanged (0.21–0.22 s against 0.20–0.21), but YAML
 *   parses half as slowly again (3,000 documents: 1.6–1.7 s of CPU against 1.0–1.1), which a
 *   start and every new commit pay.
 * - `--optimize-for-size`: peak 68.0 MiB, and the no-op's CPU 0.28 s.
 * - TurboFan back on (`--opt`): peak 78.7 MiB and a no-op no faster (0.39 s); a resync is
 *   over before its functions are hot.
 * - `--lite-mode`: 66.5 MiB, `doris run` 79.1, and the no-op's CPU doubled; it implies
 *   `--jitless`, which takes WebAssembly away, and node's `fetch` (the registry client, the
 *   notifications) needs it: the first registry request ends the process.
 * - Each alone, on 2026-12-02 before the two flags above (peak of the sync, then of `doris run`;
 *   68.1 and 84.3 MiB without): `--single-threaded-gc` 71.1 / 85.7, `--v8-pool-size=1` 68.0 /
 *   84.2, `--heap-growing-percent=10` 69.3 / 85.5, `--initial-old-space-size=16` 68.8 / 84.8,
 *   `=8` 69.6 / 83.5, `MALLOC_ARENA_MAX=2` 67.8 / 87.2: within the noise of a run.
 */
export const dorisNodeFlags = ['--max-semi-space-size=1', '--incremental-marking-hard-trigger=10', '--max-old-space-size=128', '--no-opt', '--no-maglev'];

/**
 * The hub's flags: a small young generation (2 MiB), and an old generation sized for its watch
 * cache of Devices and thousands of open long-polls (`npm run bench -- hub`: 10,000 devices
 * peaked at about 470 MiB RSS before the young generation was bounded), under the hub
 * Deployment's 512 Mi limit. No early marking: the hub answers thousands of devices.
 */
export const hubNodeFlags = ['--max-semi-space-size=2', '--max-old-space-size=384'];
