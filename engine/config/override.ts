// A device override and labels from the API are data checked like git: against the profile's configSchema,
// with the JSON path of each error; and an override never carries a secret. Secrets come from git only, where
// a reviewer sees them: an `{encrypted}` copied from another tenant's site or a `{secretRef}` naming the
// engine's admin token would otherwise be decrypted or resolved for whoever registered the device.
import type { DeviceIdentity, JsonObject, JsonValue, Snapshot } from '../model/index.ts';
import { mergeConfig, siteLayer } from './effective.ts';
import { pointer } from './parse.ts';
import { matchesPattern, profileConfigSchema } from './profile-schema.ts';
import { validateLabels } from './schema.ts';
import { groupsForDevice } from './selector.ts';

/** One problem of an API input, at a JSON pointer into the request body (e.g. `/config/gps/mode`). */
export interface InputIssue {
  /** `invalid-override`, `secret-in-override`, `config-schema-violation`, `unknown-profile`, `unknown-site`, `invalid-labels`. */
  code: string;
  path: string;
  message: string;
}

export const MAX_OVERRIDE_DEPTH = 16;
export const MAX_OVERRIDE_BYTES = 16 * 1024;
export const MAX_LABELS = 64;

const SECRET_KEYS = new Set(['encrypted', 'secretRef']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Plain JSON, bounded: objects, arrays, strings, finite numbers, booleans, null; no `__proto__` key; no secret form. */
function shapeIssues(value: unknown, path: (string | number)[], at: string, issues: InputIssue[]): void {
  if (issues.length >= 20) return;
  const here = at + pointer(path);
  if (path.length > MAX_OVERRIDE_DEPTH) {
    issues.push({ code: 'invalid-override', path: here, message: `nested deeper than ${MAX_OVERRIDE_DEPTH} levels` });
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.push({ code: 'invalid-override', path: here, message: 'not a finite number' });
    return;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => shapeIssues(item, [...path, i], at, issues));
    return;
  }
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    issues.push({ code: 'invalid-override', path: here, message: 'not a JSON value' });
    return;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      issues.push({ code: 'invalid-override', path: at + pointer([...path, key]), message: "the key '__proto__' is not allowed" });
      continue;
    }
    if (SECRET_KEYS.has(key)) {
      issues.push({
        code: 'secret-in-override',
        path: at + pointer([...path, key]),
        message: `a device override may not hold a secret ('${key}'): secrets are declared in git (a site's Wi-Fi, an x-secret profile field)`,
      });
      continue;
    }
    shapeIssues(value[key], [...path, key], at, issues);
  }
}

/**
 * The problems of a device's config override for its profile, site and labels; [] when it may be stored.
 * `at` prefixes every path (the body field, e.g. `/config`). Pure: the caller decides the answer (400).
 */
export function checkDeviceOverride(snapshot: Snapshot, device: DeviceIdentity, override: unknown, at = ''): InputIssue[] {
  if (override === undefined || override === null) return [];
  if (!isObject(override)) return [{ code: 'invalid-override', path: at, message: 'a config override must be a JSON object' }];
  const issues: InputIssue[] = [];
  shapeIssues(override, [], at, issues);
  if (issues.length > 0) return issues;
  if (JSON.stringify(override).length > MAX_OVERRIDE_BYTES) {
    return [{ code: 'invalid-override', path: at, message: `a config override may be at most ${MAX_OVERRIDE_BYTES} bytes of JSON` }];
  }
  const profile = snapshot.profiles.get(device.profile);
  if (!profile) return [{ code: 'unknown-profile', path: '/profile', message: `profile '${device.profile}' is not declared in the active revision` }];
  const site = snapshot.sites.get(device.site);
  if (!site) return [{ code: 'unknown-site', path: '/site', message: `site '${device.site}' is not declared in the active revision` }];
  const config = override as JsonObject;
  const schema = profileConfigSchema(profile);
  // An x-secret field (or a Wi-Fi password) may not be set from the API in any form, plaintext included.
  for (const path of pathsIn(config)) {
    if (schema.secretPatterns.some((pattern) => matchesPattern(path, pattern))) {
      issues.push({ code: 'secret-in-override', path: at + pointer(path), message: `${pointer(path)} is a secret field of profile ${device.profile}: it comes from git only` });
    }
  }
  if (issues.length > 0) return issues;
  for (const error of schema.layer?.(config) ?? []) {
    issues.push({ code: 'config-schema-violation', path: at + pointer(error.path), message: `${error.message} (profile ${device.profile}'s configSchema)` });
  }
  if (issues.length > 0 || schema.relationalKeywords.length === 0 || !schema.full) return issues;
  // Keywords relating several keys: judge the config the device would receive, blaming only what the override adds.
  let fromGit: JsonObject = mergeConfig(mergeConfig({}, profile.spec.defaults ?? {}), siteLayer(site, profile));
  for (const group of groupsForDevice(snapshot, device)) if (group.spec.config) fromGit = mergeConfig(fromGit, group.spec.config);
  const before = new Set(schema.full(fromGit).map((error) => error.key));
  for (const error of schema.full(mergeConfig(fromGit, config))) {
    if (before.has(error.key)) continue;
    issues.push({
      code: 'config-schema-violation',
      path: at + pointer(error.path),
      message: `${error.message} (profile ${device.profile}'s configSchema, with the config of site ${device.site} and the device's groups)`,
    });
  }
  return issues;
}

/** Every path in a JSON value (objects and arrays), for matching secret patterns. */
function pathsIn(value: JsonValue, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([...at, i]);
      pathsIn(item, [...at, i], out);
    });
  } else {
    for (const [key, item] of Object.entries(value)) {
      out.push([...at, key]);
      pathsIn(item, [...at, key], out);
    }
  }
  return out;
}

/** Labels from the API follow the rules of labels in git (keys, values of at most 63 characters), at most 64 of them. */
export function checkDeviceLabels(labels: unknown, at = '/labels'): InputIssue[] {
  if (labels === undefined) return [];
  if (!isObject(labels) || Object.getPrototypeOf(labels) !== Object.prototype) return [{ code: 'invalid-labels', path: at, message: 'labels must be an object of strings' }];
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) return [{ code: 'invalid-labels', path: at, message: `at most ${MAX_LABELS} labels` }];
  if (validateLabels(labels)) return [];
  const issues: InputIssue[] = [];
  for (const key of keys) {
    const value = labels[key];
    const path = at + pointer([key]);
    if (!validateLabels({ [key]: 'x' })) {
      issues.push({ code: 'invalid-labels', path, message: `'${key}' is not a label key (letters, digits, '-', '_', '.', an optional 'prefix/'; at most 63 characters)` });
    } else if (typeof value !== 'string' || value.length > 63) {
      issues.push({ code: 'invalid-labels', path, message: 'a label value is a string of at most 63 characters' });
    }
  }
  return issues;
}
