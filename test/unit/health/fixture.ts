/**
 * Table tests for health rules: each case is a live object written as inline YAML and the
 * status and message it must get. The message is checked by a fragment, so that wording can
 * improve without rewriting every test, but the fragment names the numbers and the reason.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { computeHealth } from '../../../src/health/index.js';
import type { HealthStatus } from '../../../src/health/index.js';
import type { KubeObject } from '../../../src/render/types.js';

export interface HealthCase {
  /** The behaviour, as the test name. */
  name: string;
  /** The live object (spec and status), as YAML. */
  yaml: string;
  status: HealthStatus;
  /** A fragment the message must contain. */
  message: string;
}

export function healthOf(yaml: string) {
  return computeHealth(parse(yaml) as KubeObject);
}

export function healthCases(cases: HealthCase[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const got = healthOf(c.yaml);
      assert.equal(got.status, c.status, `status; message was: ${got.message}`);
      assert.ok(got.message.includes(c.message), `message ${JSON.stringify(got.message)} lacks ${JSON.stringify(c.message)}`);
    });
  }
}
