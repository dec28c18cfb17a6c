// The stable issue codes of config validation. Tests and CI annotations key on them; docs/config.md lists them.

export const ISSUE_CODES = {
  // files
  'binary-file': 'A file in a resource folder is not UTF-8 text (NUL bytes or invalid UTF-8).',
  'file-too-large': 'A file in a resource folder is larger than the size limit (1 MiB by default).',
  symlink: 'A symbolic link in a resource folder; resources must be regular files.',
  'non-yaml-file': 'A file in a resource folder that is not .yaml/.yml (README.md and dotfiles are allowed).',
  'yaml-syntax': 'The YAML does not parse (also duplicate keys and alias bombs).',
  'unknown-yaml-tag': 'A YAML tag other than the core ones (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq): !!binary, !!set, !!timestamp, a custom !tag.',
  'non-json-value': 'A value JSON cannot carry (.inf, .nan).',
  'load-failed': 'A file could not be loaded for an unexpected reason; the revision is rejected rather than half-read.',
  // documents
  'not-a-resource': 'A document that is not a mapping with apiVersion, kind, metadata and spec.',
  'unknown-api-version': 'apiVersion is not fleetform/v1.',
  'unknown-kind': 'kind is not one of the resource kinds.',
  schema: 'The document violates its kind\'s JSON Schema (schemas/<kind>.schema.json).',
  'invalid-semver': 'A version that is not semver (e.g. 2.3.1).',
  'invalid-range': 'A semver range that does not parse (e.g. ">=1.4 <2").',
  'invalid-sha256': 'An artifact sha256 that is not 64 lowercase hex digits.',
  'invalid-timezone': 'A site timezone that is not an IANA timezone.',
  'invalid-config-schema': 'A profile configSchema that is not a valid JSON Schema.',
  'config-schema-violation': 'A config layer (profile defaults, a site, a group, or a combination of them) that breaks the configSchema of a profile it reaches.',
  'config-combinations-unchecked': '(warning) A configSchema relating keys that different layers set has more site/group combinations than are checked.',
  // cross references
  'duplicate-name': 'Two resources of one kind (or two bundles of one matrix) share a name.',
  'duplicate-matrix': 'Two compatibility matrices for one hardware model.',
  'duplicate-release': 'Two releases of the same hardware, component and version.',
  'dangling-reference': 'A reference to a resource that does not exist (tenant, profile, site, group, matrix, wave, hardware).',
  'unknown-component': 'A component that the hardware\'s matrix does not declare.',
  'component-mismatch': 'A bundle, transitional combination or profile whose components differ from the matrix\'s.',
  'unknown-release': 'A bundle, transitional combination or rollout target naming a release that does not exist.',
  'unknown-bundle': 'A rollout target naming a bundle that no matrix of the selected hardware declares.',
  'invalid-waves': 'Rollout waves whose percentages decrease, or duplicate wave names.',
  'strategy-mismatch': 'Bundles declared on a constraints matrix, or requires on a release whose matrix uses bundles.',
  // secrets
  'plaintext-secret': 'A secret (Wi-Fi password, webhook secret, x-secret config field) written as plaintext.',
  'invalid-secret': 'An encrypted secret that is not armored age ciphertext.',
  'secret-decrypt-failed': 'An encrypted secret that the given age identity cannot decrypt.',
  'secret-unresolved': 'A secretRef the engine could not resolve (missing environment variable or file).',
  'secret-source-not-allowed': 'A secretRef outside the secret sources the engine was started with, or a file path that escapes the secret directory.',
  'undeclared-secret': 'A secret where nothing declares one (only site Wi-Fi passwords, webhook secrets and x-secret config fields hold secrets).',
  // plug-ins
  'check-failed': 'A plug-in SnapshotCheck threw; the revision is rejected rather than half-checked.',
} as const;

export type IssueCode = keyof typeof ISSUE_CODES;

/**
 * Issues caused by the engine's environment rather than the commit: a secret source that is not there (an
 * environment variable unset, a file missing or unreadable) or an age identity that is missing or wrong.
 * A revision rejected only for these may be retried when the environment changes, without a new commit;
 * every other error is a property of the commit and stays final for that sha.
 */
export const ENVIRONMENTAL_ISSUE_CODES: ReadonlySet<IssueCode> = new Set<IssueCode>(['secret-unresolved', 'secret-decrypt-failed']);

export function isEnvironmentalIssue(issue: { code: string }): boolean {
  return ENVIRONMENTAL_ISSUE_CODES.has(issue.code as IssueCode);
}

/** Whether every error of a rejected revision comes from the environment (so retrying it can succeed). */
export function onlyEnvironmentalErrors(issues: readonly { code: string; severity: string }[]): boolean {
  const errors = issues.filter((issue) => issue.severity === 'error');
  return errors.length > 0 && errors.every(isEnvironmentalIssue);
}
