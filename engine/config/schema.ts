// The JSON Schemas of schemas/ compiled once, at module load: validation of 10k documents must not recompile them.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Issue, ResourceKind } from '../model/index.ts';
import type { ParsedDocument } from './parse.ts';
import { parsePointer } from './parse.ts';
import common from '../../schemas/common.schema.json' with { type: 'json' };
import tenant from '../../schemas/tenant.schema.json' with { type: 'json' };
import deviceProfile from '../../schemas/device-profile.schema.json' with { type: 'json' };
import site from '../../schemas/site.schema.json' with { type: 'json' };
import deviceGroup from '../../schemas/device-group.schema.json' with { type: 'json' };
import firmwareRelease from '../../schemas/firmware-release.schema.json' with { type: 'json' };
import compatibilityMatrix from '../../schemas/compatibility-matrix.schema.json' with { type: 'json' };
import rollout from '../../schemas/rollout.schema.json' with { type: 'json' };
import alertRule from '../../schemas/alert-rule.schema.json' with { type: 'json' };

/** The schema file of each kind, as editors reference it in yaml-language-server modelines. */
export const SCHEMA_FILES: Readonly<Record<ResourceKind, string>> = {
  Tenant: 'tenant.schema.json',
  DeviceProfile: 'device-profile.schema.json',
  Site: 'site.schema.json',
  DeviceGroup: 'device-group.schema.json',
  FirmwareRelease: 'firmware-release.schema.json',
  CompatibilityMatrix: 'compatibility-matrix.schema.json',
  Rollout: 'rollout.schema.json',
  AlertRule: 'alert-rule.schema.json',
};

const schemas: Record<ResourceKind, object> = {
  Tenant: tenant,
  DeviceProfile: deviceProfile,
  Site: site,
  DeviceGroup: deviceGroup,
  FirmwareRelease: firmwareRelease,
  CompatibilityMatrix: compatibilityMatrix,
  Rollout: rollout,
  AlertRule: alertRule,
};

// The schema files carry no $id: they are keyed by file name so that relative $refs
// (`common.schema.json#/$defs/…`) resolve the same way here and in editors.
// strictSchema catches unknown keywords in our schemas; strictTypes/strictRequired would reject the plain if/then branches.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, verbose: true });
ajv.addSchema(common, 'common.schema.json');
const validators = new Map<ResourceKind, ValidateFunction>();
for (const [kind, schema] of Object.entries(schemas) as [ResourceKind, object][]) {
  ajv.addSchema(schema, SCHEMA_FILES[kind]);
  const validate = ajv.getSchema(SCHEMA_FILES[kind]);
  if (!validate) throw new Error(`schema for ${kind} did not compile`);
  validators.set(kind, validate);
}

/** Labels as git's metadata.labels allows them (one source for labels from git and from the API). */
const labelsValidator = ajv.compile({ $ref: 'common.schema.json#/$defs/labels' });
export function validateLabels(labels: unknown): boolean {
  return labelsValidator(labels) === true;
}

/** Validates a document of a known kind; every violation is an issue. `skip` lists paths already reported (plaintext secrets). */
export function schemaIssues(kind: ResourceKind, document: ParsedDocument, skip: readonly string[] = []): Issue[] {
  const validate = validators.get(kind);
  if (!validate || validate(document.value)) return [];
  const errors = relevantErrors(validate.errors ?? []);
  const issues: Issue[] = [];
  for (const error of errors) {
    const path = errorPath(error);
    if (skip.some((prefix) => path === prefix || path.startsWith(prefix + '/'))) continue;
    const at = document.locate(parsePointer(path));
    issues.push({
      code: errorCode(error),
      severity: 'error',
      file: at.file,
      line: at.line,
      column: at.column,
      path,
      message: errorMessage(error),
    });
  }
  return issues;
}

/** Drops the noise of composite keywords: `if` wrappers, and the per-branch errors of an anyOf/oneOf that is reported itself. */
export function relevantErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const composites = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.schemaPath + '/');
  const seen = new Set<string>();
  const kept: ErrorObject[] = [];
  for (const error of errors) {
    if (error.keyword === 'if') continue;
    if (composites.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const key = `${errorPath(error)}|${error.keyword}|${error.message ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(error);
  }
  return kept;
}

export function errorPath(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties' || error.keyword === 'unevaluatedProperties') {
    const property = (error.params as { additionalProperty?: string; unevaluatedProperty?: string });
    const name = property.additionalProperty ?? property.unevaluatedProperty;
    if (name !== undefined) return `${error.instancePath}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return error.instancePath;
}

function errorCode(error: ErrorObject): string {
  if (error.keyword === 'pattern') {
    if (error.schemaPath.includes('$defs/sha256/')) return 'invalid-sha256';
    if (error.schemaPath.includes('$defs/semver/')) return 'invalid-semver';
    if (error.instancePath.endsWith('/timezone')) return 'invalid-timezone';
  }
  return 'schema';
}

/** A violation in words; `root` names the instance when the error is at its top (a document, a config). */
export function errorMessage(error: ErrorObject, root = 'document'): string {
  const where = error.instancePath === '' ? root : error.instancePath;
  switch (error.keyword) {
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const params = error.params as { additionalProperty?: string; unevaluatedProperty?: string };
      const name = params.additionalProperty ?? params.unevaluatedProperty ?? '?';
      const known = knownProperties(error.parentSchema);
      const suggestion = closest(name, known);
      return `unknown field '${name}' in ${where}` + (suggestion ? ` (did you mean '${suggestion}'?)` : '');
    }
    case 'required':
      return `${where} is missing required field '${(error.params as { missingProperty: string }).missingProperty}'`;
    case 'enum':
      return `${where} must be one of ${((error.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'false schema':
      return `${where} is not allowed here`;
    case 'anyOf':
    case 'oneOf':
      return `${where} does not match any allowed shape`;
    case 'pattern':
      if (error.schemaPath.includes('$defs/sha256/')) return `${where} must be 64 lowercase hex digits (a sha256)`;
      if (error.schemaPath.includes('$defs/semver/')) return `${where} must be a semantic version such as 2.3.1`;
      if (error.instancePath.endsWith('/timezone')) return `${where} must be an IANA timezone such as Europe/Berlin`;
      return `${where} ${error.message ?? 'does not match the expected pattern'}`;
    default:
      return `${where} ${error.message ?? 'is invalid'}`;
  }
}

function knownProperties(schema: unknown): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const properties = (schema as { properties?: Record<string, unknown> }).properties;
  return properties ? Object.keys(properties) : [];
}

/** The known field closest to a typo, if it is close enough to be a likely intent. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
