/**
 * `doris fleet devices` as text: what devices report is printed to an operator's terminal, so
 * a cell must carry no escape sequence and no line break, whatever a Device's status holds
 * (written by a hub that validated it, or by anyone with write access to the Device).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Device } from '../../../src/api/hub.js';
import { deviceRow, deviceTable } from '../../../src/cli/fleet.js';

function device(name: string, report: Record<string, unknown>): Device {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Device',
    metadata: { name, namespace: 'hub', creationTimestamp: '2026-12-01T12:00:00Z' },
    spec: { fleet: 'f1', tokenHash: `sha256:${'0'.repeat(64)}` },
    status: { connected: true, report: { ready: 'False', reason: 'Synced', message: 'm', agentVersion: '1', images: [], ...report } },
  } as Device;
}

describe('doris fleet devices', () => {
  it('prints device-controlled cells without control characters: one line per device', () => {
    const now = Date.parse('2026-12-01T12:05:00Z');
    const lines = deviceTable([
      deviceRow(device('evil', { reason: '\u001b[2J\u001b]0;pwned\u0007X', revision: 'r-x\r\nfake-device  ready\u009b31m' }), now),
      deviceRow(device('fine', { reason: 'Succeeded', revision: 'r-0123456789abcdef' }), now),
    ]);
    assert.equal(lines.length, 3);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there
    for (const line of lines) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(lines[1]!, /^evil .*r-x\\r\\nfake-device {2}ready\\u\{009b\}31m .*\\u\{001b\}\[2J\\u\{001b\}\]0;pwned\\u\{0007\}X$/);
    assert.match(lines[2]!, /^fine .*r-0123456789abcdef .*Succeeded$/);
  });
});
