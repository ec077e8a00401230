/**
 * Names end up in request paths (`/api/v1/namespaces/<namespace>/configmaps/<name>`), so a
 * name the API server would refuse must never get that far: `..` as a namespace once turned a
 * prune into `DELETE /api/v1/namespaces/<ns>/`. These are the API server's own rules, checked
 * when a commit is rendered, so a bad name is an error naming `file:line:col` before anything
 * of the commit is written:
 *
 * - most kinds, and custom resources: a DNS-1123 subdomain (lower-case letters, digits, `-`
 *   and `.`, at most 253 characters);
 * - Namespaces, and every `metadata.namespace`: a DNS-1123 label (no `.`, at most 63);
 * - Services: a DNS-1035 label (a label that starts with a letter);
 * - RBAC kinds (Role, ClusterRole and their bindings): any path segment — `system:aggregate-to-view`
 *   is a valid ClusterRole name — except `.`, `..` and names containing `/` or `%`;
 * - CronJobs: a subdomain of at most 52 characters (the Jobs it creates add 11).
 *
 * `apiVersion` must be `version` or `group/version` (group a subdomain, version a DNS-1035
 * label, as in `apps/v1`), and `kind` a letter followed by letters, digits or `-`.
 */
import { groupOf } from '../kube/objectid.js';

const LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Za-z](?:[-A-Za-z0-9]*[A-Za-z0-9])?$/;

function isSubdomain(value: string, maxLength = 253): boolean {
  return value.length <= maxLength && value.split('.').every((part) => LABEL.test(part));
}

function isLabel(value: string): boolean {
  return value.length <= 63 && LABEL.test(value);
}

function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS1035_LABEL.test(value);
}

const SUBDOMAIN_RULE = "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";
const LABEL_RULE = "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
const DNS1035_RULE = "a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63 characters";
const PATH_SEGMENT_RULE = "any name except '.' and '..', without '/' or '%'";

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

/** Why `name` cannot be the `metadata.name` of a `kind` object, or `undefined` if it can. */
export function nameProblem(apiVersion: string, kind: string, name: string): string | undefined {
  const group = groupOf(apiVersion);
  if (group === RBAC_GROUP && RBAC_KINDS.has(kind)) {
    const ok = name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
    return ok ? undefined : `metadata.name ${quote(name)} is not valid for a ${kind}: it must be ${PATH_SEGMENT_RULE}`;
  }
  if (group === '' && kind === 'Namespace') {
    return isLabel(name) ? undefined : `metadata.name ${quote(name)} is not valid for a Namespace: it must be ${LABEL_RULE}`;
  }
  if (group === '' && kind === 'Service') {
    return isDns1035Label(name) ? undefined : `metadata.name ${quote(name)} is not valid for a Service: it must be ${DNS1035_RULE}`;
  }
  if (group === 'batch' && kind === 'CronJob') {
    return isSubdomain(name, 52) ? undefined : `metadata.name ${quote(name)} is not valid for a CronJob: it must be ${SUBDOMAIN_RULE.replace('253', '52')}`;
  }
  return isSubdomain(name) ? undefined : `metadata.name ${quote(name)} is not valid: it must be ${SUBDOMAIN_RULE}`;
}

/** Why `namespace` cannot be a `metadata.namespace`, or `undefined` if it can. */
export function namespaceProblem(namespace: string): string | undefined {
  return isLabel(namespace) ? undefined : `metadata.namespace ${quote(namespace)} is not valid: it must be ${LABEL_RULE}`;
}

/** Why `apiVersion` is not `version` or `group/version`, or `undefined` if it is. */
export function apiVersionProblem(apiVersion: string): string | undefined {
  const parts = apiVersion.split('/');
  const ok = (parts.length === 1 && isDns1035Label(parts[0]!)) || (parts.length === 2 && isSubdomain(parts[0]!) && isDns1035Label(parts[1]!));
  return ok ? undefined : `apiVersion ${quote(apiVersion)} is not valid: it must be "<version>" or "<group>/<version>", as in "v1" or "apps/v1"`;
}

/** Why `kind` is not a kind name, or `undefined` if it is. */
export function kindProblem(kind: string): string | undefined {
  return kind.length <= 63 && KIND.test(kind)
    ? undefined
    : `kind ${quote(kind)} is not valid: it must be a letter followed by letters, digits or '-', as in "ConfigMap"`;
}

/** A value as it appears in a message: quoted, cut short when long. */
function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}
