// A profile's configSchema, compiled once per profile: where its secrets are, the schema a merged config
// must satisfy, and the schema one layer (site, group, override) must satisfy on its own.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { DeviceProfile, JsonObject, JsonValue } from '../model/index.ts';
import { parsePointer, type JsonPath } from './parse.ts';
import { errorMessage, errorPath, relevantErrors } from './schema.ts';

/** A path in a config where `*` stands for any array index or map key. */
export type PathPattern = readonly (string | '*')[];

/** Where a site's Wi-Fi passwords land in the effective config: the Site kind declares them secret. */
export const WIFI_PASSWORD: PathPattern = ['wifi', '*', 'password'];

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Paths of the `x-secret: true` fields of a config schema. */
export function secretPaths(schema: JsonValue | undefined, at: PathPattern = []): PathPattern[] {
  if (!isObject(schema)) return [];
  const paths: PathPattern[] = [];
  if (schema['x-secret'] === true) paths.push(at);
  const properties = schema.properties;
  if (isObject(properties)) {
    for (const [key, sub] of Object.entries(properties)) paths.push(...secretPaths(sub, [...at, key]));
  }
  if (schema.items) paths.push(...secretPaths(schema.items, [...at, '*']));
  if (isObject(schema.additionalProperties)) paths.push(...secretPaths(schema.additionalProperties, [...at, '*']));
  for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = schema[keyword];
    if (Array.isArray(branches)) for (const branch of branches) paths.push(...secretPaths(branch, at));
  }
  return paths;
}

/** Values of a config at a path pattern, with their concrete paths. */
export function valuesAt(value: JsonValue | undefined, pattern: PathPattern, at: (string | number)[] = []): { path: (string | number)[]; value: JsonValue }[] {
  if (value === undefined) return [];
  if (pattern.length === 0) return [{ path: at, value }];
  if (value === null || typeof value !== 'object') return [];
  const [head, ...rest] = pattern;
  if (head === '*') {
    if (Array.isArray(value)) return value.flatMap((item, i) => valuesAt(item, rest, [...at, i]));
    return Object.entries(value).flatMap(([key, item]) => valuesAt(item, rest, [...at, key]));
  }
  if (Array.isArray(value) || head === undefined || !Object.prototype.hasOwnProperty.call(value, head)) return [];
  return valuesAt(value[head], rest, [...at, head]);
}

export function matchesPattern(path: JsonPath, pattern: PathPattern): boolean {
  return path.length === pattern.length && pattern.every((segment, i) => segment === '*' || segment === String(path[i]));
}

/** Least privilege: a profile whose configSchema has no `wifi` field (a beacon) never receives Wi-Fi credentials. */
export function receivesWifi(profile: DeviceProfile): boolean {
  const schema = profile.spec.configSchema;
  if (!schema) return true;
  return isObject(schema.properties) && 'wifi' in schema.properties;
}

/** The schema with its secret fields relaxed: a layer holds `{encrypted: …}` where the device gets a string. */
function withoutSecretFields(schema: JsonValue): JsonValue {
  if (!schema || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(withoutSecretFields);
  if (schema['x-secret'] === true) return {};
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) out[key] = withoutSecretFields(value);
  return out;
}

/** The Wi-Fi password is a secret by the Site kind, marked or not. */
function withWifiPasswordSecret(schema: JsonObject): JsonObject {
  const wifi = isObject(schema.properties) ? schema.properties.wifi : undefined;
  const items = isObject(wifi) ? wifi.items : undefined;
  const password = isObject(items) && isObject(items.properties) ? items.properties.password : undefined;
  if (!isObject(password) || password['x-secret'] === true) return schema;
  const copy = structuredClone(schema);
  (((copy.properties as JsonObject).wifi as JsonObject).items as { properties: JsonObject }).properties.password = { ...password, 'x-secret': true };
  return copy;
}

// Layers merge key by key (arrays and scalars replace). A keyword that only looks at one value, or at one
// key of an object, judges the merged config exactly as it judges the layer that set that value: those stay
// in the layer schema. `required` and `minProperties` only ever gain keys when layers are added, so the
// defaults decide them. The rest relate several keys that different layers may set: they are checked on the
// merged combinations (see layers.ts).
const MONOTONE = new Set(['required', 'minProperties']);
const RELATIONAL = new Set([
  'maxProperties',
  'dependentRequired',
  'dependentSchemas',
  'dependencies',
  'if',
  'then',
  'else',
  'not',
  'anyOf',
  'oneOf',
  'unevaluatedProperties',
  '$ref',
  '$dynamicRef',
]);

function describesObject(schema: JsonObject): boolean {
  const type = schema.type;
  return type === 'object' || (Array.isArray(type) && type.includes('object')) || 'properties' in schema || 'additionalProperties' in schema;
}

/** The schema one layer must satisfy on its own, and whether anything relational was left out. */
function layerSchema(schema: JsonValue, state: { relational: string[] }): JsonValue {
  if (!isObject(schema)) return schema;
  if (schema['x-secret'] === true) return {};
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (MONOTONE.has(key)) {
      // Monotone only while nothing can replace the object with a non-object (keys would then be lost).
      if (schema.type !== 'object') state.relational.push(key);
      continue;
    }
    if (RELATIONAL.has(key) || ((key === 'enum' || key === 'const') && describesObject(schema))) {
      state.relational.push(key);
      continue;
    }
    if ((key === 'properties' || key === 'patternProperties') && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, layerSchema(sub, state)]));
    } else if (key === 'additionalProperties' && isObject(value)) {
      out[key] = layerSchema(value, state);
    } else if (key === 'allOf' && Array.isArray(value)) {
      out[key] = value.map((branch) => layerSchema(branch, state));
    } else {
      // Arrays are replaced whole, so everything under items/contains (and $defs they use) is one layer's value.
      out[key] = withoutSecretFields(value);
    }
  }
  return out;
}

/** One violation: the JSON path inside the config (with the unknown key for additionalProperties) and words. */
export interface ConfigError {
  path: (string | number)[];
  /** Identifies the violation across validations of different stacks. */
  key: string;
  message: string;
}

export interface ProfileConfigSchema {
  /** Where secrets may sit: the x-secret fields, and the Wi-Fi passwords when the profile receives Wi-Fi. */
  secretPatterns: PathPattern[];
  receivesWifi: boolean;
  /** A merged config; null when the profile has no configSchema (any config goes). */
  full: ((config: JsonValue) => ConfigError[]) | null;
  /** One layer on its own (site, group, device override). */
  layer: ((config: JsonValue) => ConfigError[]) | null;
  /** Keywords that relate keys several layers may set (if/then, dependentRequired, …): combinations are checked. */
  relationalKeywords: string[];
  /** The configSchema does not compile. */
  invalid?: string;
}

function errorsOf(validate: ValidateFunction): (config: JsonValue) => ConfigError[] {
  return (config) => {
    if (validate(config)) return [];
    return relevantErrors((validate.errors ?? []) as ErrorObject[]).map((error) => {
      const pointer = errorPath(error);
      return { path: parsePointer(pointer), key: `${pointer}|${error.keyword}|${JSON.stringify(error.params)}`, message: errorMessage(error, 'config') };
    });
  };
}

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  return ajv;
}

// Compiled once per profile object: the engine compiles revision after revision, and a revision's parsed
// documents are reused when the file did not change (cachingYamlParser), so the cache follows them.
const cache = new WeakMap<DeviceProfile, ProfileConfigSchema>();

export function profileConfigSchema(profile: DeviceProfile): ProfileConfigSchema {
  let compiled = cache.get(profile);
  if (compiled) return compiled;
  const wifi = receivesWifi(profile);
  const raw = profile.spec.configSchema;
  const secretPatterns = [...secretPaths(raw), ...(wifi ? [WIFI_PASSWORD] : [])];
  compiled = { secretPatterns, receivesWifi: wifi, full: null, layer: null, relationalKeywords: [] };
  if (raw) {
    const schema = wifi ? withWifiPasswordSecret(raw) : raw;
    const state = { relational: [] as string[] };
    const layer = layerSchema(schema, state);
    try {
      // A fresh Ajv per profile: two profiles (or two revisions of one) may carry the same $id.
      compiled.full = errorsOf(newAjv().compile(withoutSecretFields(schema) as object));
      compiled.layer = errorsOf(newAjv().compile(layer as object));
      compiled.relationalKeywords = [...new Set(state.relational)].sort();
    } catch (error) {
      compiled.full = null;
      compiled.layer = null;
      compiled.invalid = error instanceof Error ? error.message : String(error);
    }
  }
  cache.set(profile, compiled);
  return compiled;
}
