import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'an available APIService is Current',
    yaml: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: { name: metrics-server, namespace: kube-system }
status:
  conditions:
    - { type: Available, status: "True", reason: Passed, message: all checks passed }
`,
    status: 'Current',
    message: 'APIService is Available',
  },
  {
    name: 'an APIService whose backend has no endpoints is InProgress with the aggregator message',
    yaml: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
status:
  conditions:
    - type: Available
      status: "False"
      reason: MissingEndpoints
      message: endpoints for service/metrics-server in "kube-system" have no addresses with port name "https"
`,
    status: 'InProgress',
    message: 'APIService is not Available: MissingEndpoints: endpoints for service/metrics-server in "kube-system" have no addresses',
  },
  {
    name: 'an APIService that fails discovery is InProgress, not Current as kstatus would say',
    yaml: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1alpha1.widgets.example.com }
status:
  conditions:
    - type: Available
      status: "False"
      reason: FailedDiscoveryCheck
      message: "failing or missing response from https://10.43.0.7:443/apis/widgets.example.com/v1alpha1: bad status from https://10.43.0.7:443/apis/widgets.example.com/v1alpha1: 503"
`,
    status: 'InProgress',
    message: 'APIService is not Available: FailedDiscoveryCheck: failing or missing response',
  },
  {
    name: 'an APIService not yet checked by the aggregator is InProgress',
    yaml: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
spec: { group: metrics.k8s.io, version: v1beta1 }
`,
    status: 'InProgress',
    message: 'Waiting for the APIService to report its Available condition',
  },
  {
    name: 'an APIService whose availability is Unknown is InProgress',
    yaml: `
apiVersion: apiregistration.k8s.io/v1beta1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
status:
  conditions:
    - { type: Available, status: "Unknown" }
`,
    status: 'InProgress',
    message: 'APIService is not Available: condition is Unknown',
  },
]);
