import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a PodDisruptionBudget the disruption controller has computed is Current',
    yaml: `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, generation: 1 }
spec: { minAvailable: 1 }
status: { observedGeneration: 1, disruptionsAllowed: 2, currentHealthy: 3, desiredHealthy: 1, expectedPods: 3 }
`,
    status: 'Current',
    message: 'Disruption budget computed: 2 disruptions allowed',
  },
  {
    name: 'a PodDisruptionBudget allowing no disruption is still Current',
    yaml: `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, generation: 1 }
status:
  observedGeneration: 1
  conditions:
    - { type: DisruptionAllowed, status: "False", reason: InsufficientPods }
`,
    status: 'Current',
    message: '0 disruptions allowed',
  },
  {
    name: 'a PodDisruptionBudget the disruption controller has not seen yet is InProgress',
    yaml: `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, generation: 1 }
spec: { minAvailable: 1 }
`,
    status: 'InProgress',
    message: 'Waiting for the disruption controller to compute the budget',
  },
  {
    name: 'a changed PodDisruptionBudget is InProgress until its new generation is observed',
    yaml: `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, generation: 2 }
status: { observedGeneration: 1, disruptionsAllowed: 2 }
`,
    status: 'InProgress',
    message: 'PodDisruptionBudget generation is 2, observed generation is 1',
  },
]);
