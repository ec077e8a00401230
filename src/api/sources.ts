/**
 * How a Pipeline's manifests are turned into objects beyond plain YAML files:
 * `spec.kustomize` (what kustomize folders may reach, docs/adr/0012-kustomize.md) and
 * `spec.decryption` (the age key for SOPS-encrypted files, docs/adr/0011-sops.md; named as
 * in Flux, so that a repository moves between the two unchanged).
 */
import { z } from 'zod';

export const kustomizeSchema = z
  .object({
    allowRemote: z
      .boolean()
      .default(false)
      .describe('Allow remote bases and resources (git repositories, HTTP URLs) in kustomizations (default false: only paths inside the repository).'),
    allowPlugins: z
      .boolean()
      .default(false)
      .describe('Allow exec and container KRM functions and legacy plugins as generators and transformers (default false: built-ins only).'),
  })
  .strict()
  .default({ allowRemote: false, allowPlugins: false })
  .describe('What kustomize folders (a wave or step folder with a kustomization.yaml) may use beyond the repository.');

export const decryptionSchema = z
  .object({
    provider: z.literal('sops').default('sops').describe('sops (the only provider): files with SOPS metadata, encrypted for an age recipient.'),
    secretRef: z
      .object({ name: z.string().min(1).describe('Name of the Secret, in the Pipeline’s namespace.') })
      .describe('Secret in the Pipeline’s namespace holding the age identity under the key age.agekey.'),
  })
  .strict()
  .optional()
  .describe('Decryption of SOPS-encrypted files: without it, a commit holding one fails to sync, naming the file.');
