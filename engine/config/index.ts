// Config as code: source tree → issues or an immutable Snapshot; effective config per device; secrets.
export { loadResources, type LoadOptions } from './load.ts';
export { compileSnapshot, buildSnapshot, type CompileOptions, type CompileResult } from './compile.ts';
export { ruleFactsCheck, rolloutReachabilityCheck, VALIDATE_CHECKS } from './fleet-checks.ts';
export { BUILT_IN_CHECKS, secretPaths, type CheckContext, type SnapshotCheck, type ResourceOf } from './checks.ts';
export { effectiveConfig, mergeConfig, configHash, UnknownDeviceReferenceError } from './effective.ts';
export { canonicalJson } from '../model/index.ts';
export { groupsForDevice, isGroupMember, matchesLabelSelector, matchesRolloutSelector } from './selector.ts';
export {
  SecretVault,
  SecretUnavailableError,
  SecretFormatError,
  encryptSecret,
  decryptSecret,
  generateAgeIdentity,
  ageRecipient,
  parseAgeIdentities,
  isSecretValue,
  secretKey,
  type SecretReference,
  type SecretReferenceResolver,
} from './secrets.ts';
export { ISSUE_CODES, type IssueCode } from './codes.ts';
export { SCHEMA_FILES } from './schema.ts';
export { DEFAULT_MAX_FILE_BYTES } from './files.ts';
export { pointer, parsePointer, type JsonPath } from './parse.ts';
export { parallelYamlParser, cachingYamlParser, type YamlFilesParser, type ParallelParseOptions, type ParseCacheOptions } from './parallel.ts';
