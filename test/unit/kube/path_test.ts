import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsafePathSegmentError, pathSegment, resourcePath } from '../../../src/kube/client.js';

const configmaps = { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true };
const roles = { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', resource: 'clusterroles', namespaced: false };

describe('request paths', () => {
  it('builds collection and object paths', () => {
    assert.equal(resourcePath(configmaps, 'apps'), '/api/v1/namespaces/apps/configmaps');
    assert.equal(resourcePath(configmaps, 'apps', 'settings'), '/api/v1/namespaces/apps/configmaps/settings');
    assert.equal(resourcePath(roles, 'ignored', 'system:aggregate-to-view'), '/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aaggregate-to-view');
  });

  it('refuses every value that would change which URL is hit', () => {
    // `.`/`..` would climb out of the object's path: `DELETE .../namespaces/apps/configmaps/..`
    // deletes a namespace; an empty name turns an object into its collection.
    for (const value of ['', '.', '..']) {
      assert.throws(() => pathSegment(value, 'name'), UnsafePathSegmentError, JSON.stringify(value));
    }
    assert.throws(() => resourcePath(configmaps, 'apps', '..'), UnsafePathSegmentError);
    assert.throws(() => resourcePath(configmaps, '..', 'x'), UnsafePathSegmentError);
    assert.throws(() => resourcePath({ ...roles, group: '..' }, undefined, 'x'), UnsafePathSegmentError);
  });

  it('percent-encodes what may appear in a segment, so it stays one segment', () => {
    for (const [value, encoded] of [
      ['a/b', 'a%2Fb'],
      ['a?b', 'a%3Fb'],
      ['a#b', 'a%23b'],
      ['...', '...'],
      // A would-be encoded dot stays a literal name: `%` itself is encoded.
      ['%2e%2e', '%252e%252e'],
    ]) {
      assert.equal(pathSegment(value!, 'name'), encoded);
      assert.equal(new URL(`/api/v1/namespaces/x/configmaps/${pathSegment(value!, 'name')}`, 'https://127.0.0.1').pathname.split('/').length, 7);
    }
  });
});
