/**
 * Readable manifests for test repositories (and the demo): one definition of the shapes
 * the end-to-end tests push, so each test says only what differs.
 */

export const namespaceYaml = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

export function configMapYaml(namespace: string, name: string, data: Record<string, string>, annotations?: Record<string, string>): string {
  return (
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n` +
    (annotations
      ? `  annotations:\n${Object.entries(annotations)
          .map(([k, v]) => `    ${k}: "${v}"`)
          .join('\n')}\n`
      : '') +
    `data:\n${Object.entries(data)
      .map(([k, v]) => `  ${k}: "${v}"`)
      .join('\n')}\n`
  );
}

export interface DeploymentShape {
  namespace: string;
  name: string;
  image: string;
  replicas?: number;
  /** Container arguments. */
  args?: string[];
  /** Lines under `spec:` of the Deployment (2-space indent). */
  spec?: string;
  /** Lines under the pod template's `spec:` (6-space indent). */
  pod?: string;
  /** Lines under the container (8-space indent). */
  container?: string;
}

/** A Deployment labelled and selected by `app: <name>`, with one container `main`. */
export function deploymentYaml(d: DeploymentShape): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${d.name}
  namespace: ${d.namespace}
  labels: {app: ${d.name}}
spec:
  replicas: ${d.replicas ?? 1}
${d.spec ?? ''}  selector:
    matchLabels: {app: ${d.name}}
  template:
    metadata:
      labels: {app: ${d.name}}
    spec:
${d.pod ?? ''}      containers:
      - name: main
        image: ${d.image}
${d.args ? `        args: ${JSON.stringify(d.args)}\n` : ''}${d.container ?? ''}`;
}
