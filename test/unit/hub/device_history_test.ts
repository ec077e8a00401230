import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeviceReport, maxDeviceHistory } from '../../../src/api/hub.js';
import { nextHistory } from '../../../src/hub/devices.js';

const report = (revision: string, ready: DeviceReport['ready'], reason: string): DeviceReport => ({
  revision,
  commit: 'a'.repeat(40),
  ready,
  reason,
  message: 'm',
  images: [],
  agentVersion: '0.1.0',
});

describe('device history', () => {
  it('adds an entry only when the revision, Ready or the reason changed, newest first', () => {
    let history = nextHistory(undefined, report('r-1', 'True', 'Succeeded'), 't1');
    history = nextHistory({ history }, report('r-1', 'True', 'Succeeded'), 't2');
    assert.deepEqual(
      history.map((h) => h.at),
      ['t1'],
      'a report that changes only its message or counts adds nothing',
    );
    history = nextHistory({ history }, report('r-2', 'False', 'HealthCheckFailed'), 't3');
    history = nextHistory({ history }, report('r-1', 'True', 'Succeeded'), 't4');
    assert.deepEqual(
      history.map((h) => [h.at, h.revision, h.ready, h.reason]),
      [
        ['t4', 'r-1', 'True', 'Succeeded'],
        ['t3', 'r-2', 'False', 'HealthCheckFailed'],
        ['t1', 'r-1', 'True', 'Succeeded'],
      ],
    );
  });

  it('keeps a bounded number of entries', () => {
    let history = nextHistory(undefined, report('r-0', 'True', 'Succeeded'), 't0');
    for (let i = 1; i < 25; i += 1) history = nextHistory({ history }, report(`r-${i}`, 'True', 'Succeeded'), `t${i}`);
    assert.equal(history.length, maxDeviceHistory);
    assert.equal(history[0]?.revision, 'r-24');
  });
});
