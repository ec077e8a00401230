import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fleetSelector, labelsFlag } from '../../../src/cli/hub.js';
import { etagMatches } from '../../../src/hub/api.js';
import { checkTransport, isLoopback } from '../../../src/hub/server.js';

describe('hub transport', () => {
  it('serves plain HTTP only on loopback unless --insecure-http; TLS and --insecure-http exclude each other', () => {
    const at = (host: string, extra: { tlsSecret?: string; insecureHttp?: boolean } = {}) => checkTransport({ listen: { host, port: 8443 }, ...extra });
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(at(host), undefined, host);
    for (const host of ['0.0.0.0', '10.0.0.5', '::', 'hub.example.com', '128.0.0.1']) {
      assert.match(at(host) ?? '', /--tls-secret NAME, or --insecure-http/, host);
      assert.equal(at(host, { insecureHttp: true }), undefined);
      assert.equal(at(host, { tlsSecret: 'hub-tls' }), undefined);
    }
    assert.match(at('127.0.0.1', { tlsSecret: 'x', insecureHttp: true }) ?? '', /exclude each other/);
    assert.equal(isLoopback('127.0.0.1.example.com'), false);
  });
});

describe('If-None-Match', () => {
  it('matches the exact tag, a weak one, a list, or *; nothing else', () => {
    assert.equal(etagMatches('"r-1"', '"r-1"'), true);
    assert.equal(etagMatches('W/"r-1"', '"r-1"'), true);
    assert.equal(etagMatches('"r-0", "r-1"', '"r-1"'), true);
    assert.equal(etagMatches('*', '"r-1"'), true);
    for (const header of [undefined, '', 'r-1', '"r-10"', '"r-1', '"R-1"']) assert.equal(etagMatches(header, '"r-1"'), false, String(header));
  });
});

describe('hub CLI flags', () => {
  it('reads --labels k=v,... and refuses what a Device label cannot be, or the hub’s own keys', () => {
    assert.deepEqual(labelsFlag('site=north,tier=edge'), { site: 'north', tier: 'edge' });
    assert.deepEqual(labelsFlag('example.com/zone=a'), { 'example.com/zone': 'a' });
    for (const bad of ['site', '=x', 'bad key=x', `k=${'v'.repeat(64)}`, 'hub.doris.dev/fleet=f', 'k=has space']) {
      assert.throws(() => labelsFlag(bad), /--labels/, bad);
    }
  });

  it('selects a Fleet’s Devices by its label, narrowed by a user selector', () => {
    assert.equal(fleetSelector('f1'), 'hub.doris.dev/fleet=f1');
    assert.equal(fleetSelector('f1', 'site in (a,b)'), 'hub.doris.dev/fleet=f1,site in (a,b)');
  });
});
