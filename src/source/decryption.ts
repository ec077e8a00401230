/**
 * The age key of a Pipeline's `spec.decryption` (docs/adr/0011-sops.md): read from its Secret
 * (key `age.agekey`, as Flux names it) by the controller itself, never as the Pipeline's
 * impersonated account, and handed to the render in memory only.
 */
import type { PipelineSpec } from '../api/pipeline.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { ageKeySecretKey } from '../render/sops.js';

export async function decryptionKey(spec: PipelineSpec, client: KubeClient, namespace: string): Promise<string | undefined> {
  const ref = spec.decryption?.secretRef;
  if (!ref) return undefined;
  const where = `Secret ${namespace}/${ref.name} (spec.decryption.secretRef)`;
  let secret: { data?: Record<string, string> } | undefined;
  try {
    secret = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: ref.name })) as typeof secret;
  } catch (error) {
    throw new DorisError('CredentialsFailed', `decryption key: ${where} could not be read: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (!secret) throw new DorisError('CredentialsFailed', `decryption key: ${where} not found`);
  const encoded = secret.data?.[ageKeySecretKey];
  const key = encoded ? Buffer.from(encoded, 'base64').toString('utf8').trim() : '';
  if (!key) throw new DorisError('CredentialsFailed', `decryption key: ${where} has no "${ageKeySecretKey}" key`);
  return key;
}
