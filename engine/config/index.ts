// Config as code: source tree → issues or an immutable Snapshot; effective config per device; secrets.
export { loadResources, type LoadOptions } from './load.ts';
export { compileSnapshot, buildSnapshot, type CompileOptions, type CompileResult } from './compile.ts';
export { ruleFactsCheck, rolloutReachabilityCheck, VALIDATE_CHECKS } from './fleet-checks.ts';
export { BUILT_IN_CHECKS, type CheckContext, type SnapshotCheck, type ResourceOf } from './checks.ts';
export { secretPaths, profileConfigSchema, receivesWifi, type ProfileConfigSchema, type ConfigError } from './profile-schema.ts';
export { checkConfigLayers, MAX_COMBINATIONS_PER_PROFILE } from './layers.ts';
export { checkSecretPlaces, declaredSecrets } from './secret-places.ts';
export { effectiveConfig, mergeConfig, configHash, siteLayer, UnknownDeviceReferenceError } from './effective.ts';
export { canonicalJson } from '../model/index.ts';
export { groupsForDevice, isGroupMember, matchesLabelSelector, matchesRolloutSelector, atomsSatisfiable, selectorAtoms, negateAtom, type LabelAtom } from './selector.ts';
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
export { ISSUE_CODES, ENVIRONMENTAL_ISSUE_CODES, isEnvironmentalIssue, onlyEnvironmentalErrors, type IssueCode } from './codes.ts';
export {
  DEFAULT_SECRET_SOURCES,
  DEFAULT_SECRET_ENV_PREFIX,
  SECRET_SOURCE_SETTINGS,
  MAX_SECRET_FILE_BYTES,
  SecretSourcesError,
  SecretSourceRefusedError,
  parseSecretSources,
  secretSourceRefusal,
  secretSourceResolver,
  describeSecretSources,
  describeSecretSource,
  isEngineSetting,
  type SecretSources,
  type SecretSourceAccess,
} from './secret-sources.ts';
export { SCHEMA_FILES } from './schema.ts';
export { DEFAULT_MAX_FILE_BYTES } from './files.ts';
export { pointer, parsePointer, type JsonPath } from './parse.ts';
export { parallelYamlParser, cachingYamlParser, type YamlFilesParser, type ParallelParseOptions, type ParseCacheOptions } from './parallel.ts';
export { checkDeviceOverride, checkDeviceLabels, MAX_OVERRIDE_BYTES, MAX_OVERRIDE_DEPTH, MAX_LABELS, type InputIssue } from './override.ts';
