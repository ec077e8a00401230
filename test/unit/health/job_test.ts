import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a completed Job is Current',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
status:
  startTime: "2024-05-01T10:00:00Z"
  succeeded: 1
  conditions:
    - { type: SuccessCriteriaMet, status: "True" }
    - { type: Complete, status: "True" }
`,
    status: 'Current',
    message: 'Job completed: 1 succeeded',
  },
  {
    name: 'a Job that hit its backoff limit is Failed with the reason',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
status:
  failed: 7
  conditions:
    - { type: FailureTarget, status: "True", reason: BackoffLimitExceeded }
    - type: Failed
      status: "True"
      reason: BackoffLimitExceeded
      message: Job has reached the specified backoff limit
`,
    status: 'Failed',
    message: 'Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
  },
  {
    name: 'a running Job is InProgress',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
status: { startTime: "2024-05-01T10:00:00Z", active: 1, failed: 2 }
`,
    status: 'InProgress',
    message: 'Job in progress: 1 active, 0 succeeded, 2 failed',
  },
  {
    name: 'a Job not yet started is InProgress',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { template: { spec: { restartPolicy: Never } } }
`,
    status: 'InProgress',
    message: 'Job in progress: 0 active',
  },
  {
    name: 'a Job whose conditions are False is still InProgress',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
status:
  active: 1
  conditions:
    - { type: Complete, status: "False" }
    - { type: Failed, status: "False" }
    - { type: Suspended, status: "False" }
`,
    status: 'InProgress',
    message: 'Job in progress',
  },
  {
    name: 'a suspended Job is Current and not waited for',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { suspend: true }
status:
  conditions:
    - { type: Suspended, status: "True", reason: JobSuspended }
`,
    status: 'Current',
    message: 'Job is suspended',
  },
  {
    name: 'a Job suspended in the spec is Current before the controller reports it suspended',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { suspend: true }
`,
    status: 'Current',
    message: 'Job is suspended',
  },
  {
    name: 'a Job just resumed (suspend false) with a stale Suspended condition is InProgress',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { suspend: false }
status:
  conditions:
    - { type: Suspended, status: "True", reason: JobSuspended, message: Job suspended }
`,
    status: 'InProgress',
    message: 'Job is resuming',
  },
  {
    name: 'a Job whose suspend field was removed, with a stale Suspended condition, is InProgress',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { template: { spec: { restartPolicy: Never } } }
status:
  conditions:
    - { type: Suspended, status: "True", reason: JobSuspended }
`,
    status: 'InProgress',
    message: 'Job is resuming',
  },
  {
    name: 'a resumed Job that has completed is Current even if the Suspended condition lingers',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: { name: migrate }
spec: { suspend: false }
status:
  succeeded: 1
  conditions:
    - { type: Suspended, status: "True", reason: JobSuspended }
    - { type: Complete, status: "True" }
`,
    status: 'Current',
    message: 'Job completed: 1 succeeded',
  },
  {
    name: 'a CronJob is Current as soon as it exists',
    yaml: `
apiVersion: batch/v1
kind: CronJob
metadata: { name: backup }
spec: { schedule: "0 3 * * *" }
status: { active: [{ name: backup-28571234 }] }
`,
    status: 'Current',
    message: 'CronJob is scheduled',
  },
]);
