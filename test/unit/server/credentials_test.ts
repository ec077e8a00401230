import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebhookCredentials } from '../../../src/cli/run.js';
import { UiTokens } from '../../../src/cli/ui-flags.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { KubeApiError } from '../../../src/kube/http.js';
import { memoryLogger } from '../../fake/logs.js';

const values = { 'github-secret': 'gh-secret-value', 'registry-token': 'registry-token-value', 'operator-token': 'operator-token-value' };

/** A client whose Secret is there, failing (the API server answers 500) or gone (404: undefined), as the test says. */
function secretClient() {
  const state = { now: 'there' as 'there' | 'failing' | 'gone' };
  const client = {
    get: async () => {
      if (state.now === 'failing') {
        throw new KubeApiError('GET', '/api/v1/namespaces/doris-system/secrets/s', 500, { message: 'etcdserver: request timed out' }, '');
      }
      if (state.now === 'gone') return undefined;
      return { data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    },
  } as unknown as KubeClient;
  return { state, client };
}

describe('credentials from a Secret', () => {
  it('survive an API-server error (warned, no value logged), and go only with the Secret', async () => {
    const { state, client } = secretClient();
    const log = memoryLogger();
    const hooks = new WebhookCredentials(client, 'doris-system', 's', {}, log.logger);
    const ui = new UiTokens(client, 'doris-system', 's', {}, log.logger);
    const refresh = () => Promise.all([hooks.refresh(), ui.refresh()]);
    await refresh();
    assert.deepEqual([hooks.github(), hooks.registry(), ui.tokens().operator], ['gh-secret-value', 'registry-token-value', 'operator-token-value']);

    state.now = 'failing';
    await refresh();
    assert.deepEqual([hooks.github(), hooks.registry(), ui.tokens().operator], ['gh-secret-value', 'registry-token-value', 'operator-token-value']);
    const warnings = log
      .text()
      .split('\n')
      .filter((l) => l.includes('"level":40'));
    assert.equal(warnings.length, 2);
    for (const warning of warnings) assert.match(warning, /500 etcdserver: request timed out/);
    assert.doesNotMatch(log.text(), /-value/, 'a secret value was logged');

    state.now = 'gone';
    await refresh();
    assert.deepEqual([hooks.github(), hooks.registry(), ui.tokens().operator], [undefined, undefined, undefined]);
  });
});
