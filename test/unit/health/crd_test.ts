import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'an established CRD is Current',
    yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
status:
  conditions:
    - { type: NamesAccepted, status: "True", reason: NoConflicts }
    - { type: Established, status: "True", reason: InitialNamesAccepted }
`,
    status: 'Current',
    message: 'CRD is Established',
  },
  {
    name: 'a CRD whose names clash is Failed, whatever the order of its conditions',
    yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
status:
  conditions:
    - { type: Established, status: "False", reason: Installing }
    - type: NamesAccepted
      status: "False"
      reason: KindConflict
      message: '"Widget" is already in use'
`,
    status: 'Failed',
    message: 'CRD names were not accepted: KindConflict: "Widget" is already in use',
  },
  {
    name: 'a CRD still installing is InProgress',
    yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
status:
  conditions:
    - { type: NamesAccepted, status: "True" }
    - { type: Established, status: "False", reason: Installing }
`,
    status: 'InProgress',
    message: 'Waiting for the CRD to be Established',
  },
  {
    name: 'a CRD not established for another reason is Failed',
    yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
status:
  conditions:
    - { type: Established, status: "False", reason: NotAccepted, message: "not all names are accepted" }
`,
    status: 'Failed',
    message: 'CRD is not Established: NotAccepted: not all names are accepted',
  },
  {
    name: 'a CRD without conditions is InProgress',
    yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec: { group: example.com }
`,
    status: 'InProgress',
    message: 'Waiting for the CRD to be Established',
  },
]);
