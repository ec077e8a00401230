import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiVersionProblem, kindProblem, nameProblem, namespaceProblem } from '../../../src/render/names.js';

const ok = undefined;
const bad = 'refused';

describe('names checked with the API server rules', () => {
  const names: [apiVersion: string, kind: string, name: string, expected: typeof ok | typeof bad][] = [
    ['v1', 'ConfigMap', 'web-config.v2', ok],
    ['v1', 'ConfigMap', '..', bad],
    ['v1', 'ConfigMap', '.', bad],
    ['v1', 'ConfigMap', 'a/b', bad],
    ['v1', 'ConfigMap', 'a%2f', bad],
    ['v1', 'ConfigMap', 'Web', bad],
    ['v1', 'ConfigMap', '-web', bad],
    ['v1', 'ConfigMap', 'web.', bad],
    ['v1', 'ConfigMap', 'a'.repeat(253), ok], // the API server does not limit a subdomain's parts
    ['v1', 'ConfigMap', 'a'.repeat(254), bad],
    ['v1', 'Namespace', 'team-a', ok],
    ['v1', 'Namespace', 'team.a', bad],
    ['v1', 'Service', 'web', ok],
    ['v1', 'Service', '1web', bad],
    ['batch/v1', 'CronJob', 'c'.repeat(52), ok],
    ['batch/v1', 'CronJob', 'c'.repeat(53), bad],
    ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'system:aggregate-to-view', ok],
    ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'Admin', ok],
    ['rbac.authorization.k8s.io/v1', 'Role', '..', bad],
    ['rbac.authorization.k8s.io/v1', 'Role', 'a/b', bad],
    ['example.com/v1', 'Widget', 'my.widget', ok],
    ['example.com/v1', 'Widget', 'My_Widget', bad],
  ];
  for (const [apiVersion, kind, name, expected] of names) {
    it(`${expected === ok ? 'accepts' : 'refuses'} ${kind} ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…(${name.length})` : name)}`, () => {
      assert.equal(nameProblem(apiVersion, kind, name) === undefined ? ok : bad, expected);
    });
  }

  it('checks namespaces as DNS-1123 labels', () => {
    assert.equal(namespaceProblem('kube-system'), undefined);
    for (const ns of ['..', '.', 'a/b', 'A', 'a.b', 'n'.repeat(64)]) assert.ok(namespaceProblem(ns), ns);
  });

  it('checks apiVersion shape: version or group/version', () => {
    for (const v of ['v1', 'apps/v1', 'rbac.authorization.k8s.io/v1', 'example.com/v1beta1']) assert.equal(apiVersionProblem(v), undefined, v);
    for (const v of ['../api/v1', 'apps/v1/x', '/v1', 'apps/', 'Apps/v1', 'apps/V1', 'v1 ']) assert.ok(apiVersionProblem(v), v);
  });

  it('checks kind shape', () => {
    for (const k of ['ConfigMap', 'HorizontalPodAutoscaler']) assert.equal(kindProblem(k), undefined, k);
    for (const k of ['../Secret', 'Config Map', 'Config_Map', '1Kind', '']) assert.ok(kindProblem(k), k);
  });
});
