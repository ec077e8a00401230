/**
 * Impersonating views of a client: one per user, so that what is remembered per client (the
 * LIST refusals of apply/live.ts, for 5 minutes) holds across the syncs of a Pipeline with
 * spec.serviceAccountName. No request is made here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpKubeClient } from '../../../src/kube/client.js';
import { KubeHttp } from '../../../src/kube/http.js';

describe('HttpKubeClient.impersonate', () => {
  it('gives the same view for the same user, a different one for another, sharing discovery', async () => {
    const http = await KubeHttp.connect({ server: new URL('https://127.0.0.1:1'), tls: { rejectUnauthorized: true }, authorization: async () => undefined });
    const client = new HttpKubeClient(http);
    try {
      const deployer = client.impersonate('system:serviceaccount:team-a:deployer');
      assert.equal(client.impersonate('system:serviceaccount:team-a:deployer'), deployer);
      const other = client.impersonate('system:serviceaccount:team-b:deployer');
      assert.notEqual(other, deployer);
      assert.equal(deployer.discovery, client.discovery);
    } finally {
      client.close();
    }
  });
});
