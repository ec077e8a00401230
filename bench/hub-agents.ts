/**
 * Simulated agents for `npm run bench -- hub`: one process runs thousands of agents, each
 * speaking the real protocol with the agent's own client and backoff (src/source/hub.ts,
 * src/controller/hub-follower.ts): long-poll the target with its ETag, download and verify
 * the bundle when the target changes, report Ready on it. Nothing is applied: the benchmark
 * measures the hub, not the clusters.
 *
 * Input: a JSON file `{hub, fleet, tokens, waitSeconds}` (argv[2]). Output: one JSON line per
 * event on stdout — `target` and `bundle` (with the revision and the time), `fail` and
 * `retry` (a reconnect attempt) — which the parent aggregates.
 */
import { readFileSync } from 'node:fs';
import { type Agent as HttpAgent, globalAgent } from 'node:http';
import { backoffDelay, defaultHubFollowerOptions } from '../src/controller/hub-follower.js';
import { HubClient, HubError, defaultHubClientOptions } from '../src/source/hub.js';

interface Config {
  hub: string;
  fleet: string;
  tokens: string[];
  waitSeconds: number;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
// Every agent holds its own connection, as separate devices would.
(globalAgent as HttpAgent).maxSockets = Number.POSITIVE_INFINITY;
const backoff = defaultHubFollowerOptions();
let running = true;
const lines: string[] = [];
const emit = (event: Record<string, unknown>) => lines.push(JSON.stringify(event));
setInterval(() => {
  if (lines.length > 0) process.stdout.write(`${lines.splice(0).join('\n')}\n`);
}, 100).unref();

async function agent(token: string): Promise<void> {
  const device = token.slice(0, token.lastIndexOf('.'));
  const client = new HubClient(config.hub, token, { ...defaultHubClientOptions(), timeoutMs: 60_000 });
  let etag: string | undefined;
  let failures = 0;
  while (running) {
    try {
      if (failures > 0) emit({ e: 'retry', t: Date.now() });
      const answer = await client.target(config.fleet, etag, etag ? config.waitSeconds : 0);
      failures = 0;
      if (!answer) continue;
      etag = answer.etag;
      const { target } = answer;
      emit({ e: 'target', rev: target.revision, t: Date.now() });
      await client.bundle(config.fleet, target.bundle.digest);
      emit({ e: 'bundle', rev: target.revision, t: Date.now() });
      await client.report(config.fleet, device, {
        revision: target.revision,
        commit: target.commit,
        ready: 'True',
        reason: 'Succeeded',
        message: `applied ${target.commit.slice(0, 12)}`,
        images: [],
        agentVersion: 'bench',
      });
    } catch (error) {
      failures += 1;
      emit({ e: 'fail', t: Date.now(), status: error instanceof HubError ? error.status : 0 });
      const retryAfter = error instanceof HubError ? (error.retryAfterMs ?? 0) : 0;
      await new Promise((resolve) => setTimeout(resolve, Math.max(retryAfter, backoffDelay(failures, backoff))));
    }
  }
}

// The parent went away: so do we.
process.stdout.on('error', () => process.exit(0));
process.on('SIGTERM', () => {
  running = false;
  process.stdout.write(`${lines.splice(0).join('\n')}\n`);
  process.exit(0);
});

// Start spread over two seconds, as devices booting at different times would.
for (const [i, token] of config.tokens.entries()) setTimeout(() => void agent(token), (i / config.tokens.length) * 2000);
