import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeObject, groupOf, objectId, parseObjectId } from '../../../src/kube/objectid.js';
import type { KubeObject } from '../../../src/render/types.js';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: namespace === undefined ? { name } : { name, namespace },
});

describe('object ids', () => {
  it('takes the group from apiVersion, empty for the core group', () => {
    assert.equal(groupOf('apps/v1'), 'apps');
    assert.equal(groupOf('rbac.authorization.k8s.io/v1'), 'rbac.authorization.k8s.io');
    assert.equal(groupOf('v1'), '');
  });

  it('names objects as <namespace>_<name>_<group>_<kind>, as Flux does', () => {
    assert.equal(objectId(obj('apps/v1', 'Deployment', 'influxdb', 'monitoring')), 'monitoring_influxdb_apps_Deployment');
    assert.equal(objectId(obj('v1', 'ConfigMap', 'settings', 'monitoring')), 'monitoring_settings__ConfigMap');
    assert.equal(objectId(obj('v1', 'Namespace', 'monitoring')), '_monitoring__Namespace');
    assert.equal(
      objectId(obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com')),
      '_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition',
    );
  });

  it('gives the same id to every version of an object', () => {
    assert.equal(
      objectId(obj('autoscaling/v1', 'HorizontalPodAutoscaler', 'web', 'apps')),
      objectId(obj('autoscaling/v2', 'HorizontalPodAutoscaler', 'web', 'apps')),
    );
  });

  it('drops a stray namespace from a cluster-scoped kind', () => {
    assert.equal(objectId(obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'reader', 'apps')), '_reader_rbac.authorization.k8s.io_ClusterRole');
    assert.equal(objectId(obj('example.com/v1', 'Widget', 'blue', 'apps')), 'apps_blue_example.com_Widget');
  });

  it('parses an id back into its parts', () => {
    const ids = [objectId(obj('apps/v1', 'Deployment', 'influxdb', 'monitoring')), objectId(obj('v1', 'Namespace', 'monitoring'))];
    assert.deepEqual(ids.map(parseObjectId), [
      { namespace: 'monitoring', name: 'influxdb', group: 'apps', kind: 'Deployment' },
      { namespace: '', name: 'monitoring', group: '', kind: 'Namespace' },
    ]);
  });

  it('parses back a name that holds `_` (RBAC names may)', () => {
    const id = objectId(obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'team_a:reader'));
    assert.deepEqual(parseObjectId(id), { namespace: '', name: 'team_a:reader', group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' });
  });

  it('does not parse strings that are not object ids', () => {
    for (const id of ['', 'a_b_c', 'ns__apps_Deployment', 'ns_name_apps_']) {
      assert.equal(parseObjectId(id), undefined, id);
    }
  });

  it('describes objects for messages as Kind namespace/name', () => {
    assert.equal(describeObject(obj('apps/v1', 'Deployment', 'influxdb', 'monitoring')), 'Deployment monitoring/influxdb');
    assert.equal(describeObject(obj('v1', 'Namespace', 'monitoring')), 'Namespace monitoring');
  });
});
