/**
 * The OCI registry source: tag → digest, for any v2 registry. See client.ts for the
 * concept; the other files are its parts (one concern each).
 */
export {
  RegistryClient,
  defaultRegistryClientOptions,
  type RegistryClientOptions,
  type ResolvedImage,
  type RuleResolution,
  type UnresolvedImage,
} from './client.js';
export {
  credentialFor,
  noRegistryCredentials,
  parseDockerConfigJson,
  parseDockerConfigSecret,
  type RegistryCredential,
  type RegistryCredentialSet,
} from './credentials.js';
export { ImageResolveError } from './errors.js';
export { canonicalName, parseImageReference, tryParseImageReference, type ImageReference } from './reference.js';
export { parseRulePattern, ruleMatches, type ImageRule } from './rule.js';
export type { RetryEvent } from './retry.js';
