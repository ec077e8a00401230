import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'an active Namespace is Current',
    yaml: `
apiVersion: v1
kind: Namespace
metadata: { name: monitoring }
status: { phase: Active }
`,
    status: 'Current',
    message: 'Namespace is Active',
  },
  {
    name: 'a Namespace in phase Terminating is Terminating',
    yaml: `
apiVersion: v1
kind: Namespace
metadata: { name: monitoring }
status: { phase: Terminating }
`,
    status: 'Terminating',
    message: 'Namespace is Terminating',
  },
  {
    name: 'a Namespace with a deletion timestamp is Terminating before its phase says so',
    yaml: `
apiVersion: v1
kind: Namespace
metadata: { name: monitoring, deletionTimestamp: "2024-05-01T10:00:00Z" }
status: { phase: Active }
`,
    status: 'Terminating',
    message: 'Namespace is scheduled for deletion',
  },
  {
    name: 'a Namespace without a phase is InProgress',
    yaml: `
apiVersion: v1
kind: Namespace
metadata: { name: monitoring }
`,
    status: 'InProgress',
    message: 'Namespace is not Active: no phase reported',
  },
]);
