// The semantic diff of two revisions: resources matched by (kind, name), never by file, so moving a
// resource to another file is no change. Field changes are paths with old → new; a secret only by its source.
import type { JsonValue, ResourceDocument, ResourceKind } from '../model/index.ts';
import { describeSecretSource, isSecretValue } from '../config/index.ts';

export type FieldChangeType = 'added' | 'removed' | 'changed';

export interface FieldChange {
  /** Readable path: `spec.waves[canary].percent`; array elements with a `name`/`id`/`ssid` are matched by it. */
  path: string;
  type: FieldChangeType;
  /** Absent for secrets: a secret is only ever reported as added, removed or changed. */
  old?: JsonValue;
  new?: JsonValue;
  secret?: true;
  /**
   * For a secret: where it comes from on each side — `env FLEETFORM_SECRET_X`, `file wifi/denver`,
   * `age-encrypted` — so a reviewer sees which variable or file the engine will read; never a value.
   */
  source?: { old?: string; new?: string };
}

export interface ResourceChange {
  kind: ResourceKind;
  name: string;
  type: 'added' | 'removed' | 'changed';
  /** File at HEAD (at BASE for a removed resource). */
  file: string;
  /** Field changes (for `changed`); empty for added and removed resources. */
  fields: FieldChange[];
}

export interface ResourceSide {
  resource: ResourceDocument;
  file: string;
}

/** Keys whose values are secrets whatever their shape (a plaintext one is an issue, but is still never shown). */
const SECRET_KEYS = new Set(['password', 'secret', 'psk', 'token', 'passphrase', 'privateKey']);

/** Element identity inside arrays of objects, tried in order. */
const IDENTITY_KEYS = ['name', 'id', 'ssid'] as const;

const KIND_ORDER: readonly ResourceKind[] = [
  'FirmwareRelease',
  'CompatibilityMatrix',
  'Rollout',
  'DeviceProfile',
  'DeviceGroup',
  'Site',
  'Tenant',
  'AlertRule',
];

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  const ao = a as { [key: string]: JsonValue };
  const bo = b as { [key: string]: JsonValue };
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((key) => key in bo && jsonEqual(ao[key], bo[key]));
}

function containsSecret(value: JsonValue | undefined): boolean {
  if (value === undefined || value === null || typeof value !== 'object') return false;
  if (isSecretValue(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  return Object.entries(value).some(([key, item]) => SECRET_KEYS.has(key) || containsSecret(item));
}

/** The key that identifies every element of both arrays, if there is one and it is unique on each side. */
function identityKey(a: readonly JsonValue[], b: readonly JsonValue[]): string | null {
  const all = [...a, ...b];
  if (all.length === 0 || !all.every(isObject)) return null;
  for (const key of IDENTITY_KEYS) {
    const unique = (list: readonly JsonValue[]): boolean => {
      const seen = new Set<string>();
      for (const item of list) {
        const id = (item as { [k: string]: JsonValue })[key];
        if (typeof id !== 'string' && typeof id !== 'number') return false;
        if (seen.has(String(id))) return false;
        seen.add(String(id));
      }
      return true;
    };
    if (unique(a) && unique(b)) return key;
  }
  return null;
}

function join(path: string, key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/** The sources of the secrets in a value, in words (`env X, file y`); undefined when it holds none. */
function sourcesOf(value: JsonValue | undefined, found: string[] = []): string[] {
  if (value === undefined || value === null || typeof value !== 'object') return found;
  if (isSecretValue(value)) {
    const described = describeSecretSource(value);
    if (!found.includes(described)) found.push(described);
  } else if (Array.isArray(value)) for (const item of value) sourcesOf(item, found);
  else for (const item of Object.values(value)) sourcesOf(item, found);
  return found;
}

function secretChange(path: string, type: FieldChangeType, old: JsonValue | undefined, next: JsonValue | undefined): FieldChange {
  const entry: FieldChange = { path, type, secret: true };
  const [before, after] = [sourcesOf(old), sourcesOf(next)];
  if (before.length > 0 || after.length > 0) {
    entry.source = {};
    if (before.length > 0) entry.source.old = before.join(', ');
    if (after.length > 0) entry.source.new = after.join(', ');
  }
  return entry;
}

function change(path: string, type: FieldChangeType, old: JsonValue | undefined, next: JsonValue | undefined, secret: boolean): FieldChange {
  if (secret || containsSecret(old) || containsSecret(next)) return secretChange(path, type, old, next);
  const entry: FieldChange = { path, type };
  if (old !== undefined) entry.old = old;
  if (next !== undefined) entry.new = next;
  return entry;
}

/** Field changes between two JSON values, depth first, in a stable order (keys of the new side first). */
export function diffValues(old: JsonValue | undefined, next: JsonValue | undefined, path = '', secret = false, out: FieldChange[] = []): FieldChange[] {
  if (jsonEqual(old, next)) return out;
  if (old === undefined) {
    out.push(change(path, 'added', undefined, next, secret));
    return out;
  }
  if (next === undefined) {
    out.push(change(path, 'removed', old, undefined, secret));
    return out;
  }
  // A secret is a leaf: its parts (ciphertext, reference) are never diffed one by one.
  if (secret || isSecretValue(old) || isSecretValue(next)) {
    out.push(secretChange(path, 'changed', old, next));
    return out;
  }
  if (isObject(old) && isObject(next)) {
    const keys = [...Object.keys(next), ...Object.keys(old).filter((key) => !(key in next))];
    for (const key of keys) diffValues(old[key], next[key], join(path, key), SECRET_KEYS.has(key), out);
    return out;
  }
  if (Array.isArray(old) && Array.isArray(next)) {
    const key = identityKey(old, next);
    if (key) {
      const byId = (list: JsonValue[]): Map<string, JsonValue> =>
        new Map(list.map((item) => [String((item as { [k: string]: JsonValue })[key]), item]));
      const oldById = byId(old);
      const nextById = byId(next);
      const ids = [...nextById.keys(), ...[...oldById.keys()].filter((id) => !nextById.has(id))];
      for (const id of ids) diffValues(oldById.get(id), nextById.get(id), `${path}[${id}]`, false, out);
      const order = (ids: string[]): string => ids.filter((id) => oldById.has(id) && nextById.has(id)).join('\0');
      if (order([...oldById.keys()]) !== order([...nextById.keys()])) {
        out.push({ path: `${path}[*]`, type: 'changed', old: [...oldById.keys()], new: [...nextById.keys()] });
      }
      return out;
    }
    if (old.every(isObject) && next.every(isObject) && old.length > 0 && next.length > 0) {
      const length = Math.max(old.length, next.length);
      for (let i = 0; i < length; i++) diffValues(old[i], next[i], `${path}[${i}]`, false, out);
      return out;
    }
  }
  out.push(change(path, 'changed', old, next, false));
  return out;
}

function key(resource: ResourceDocument): string {
  return `${resource.kind}/${resource.metadata.name}`;
}

function compareChanges(a: ResourceChange, b: ResourceChange): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Added, removed and changed resources between BASE and HEAD, ordered firmware kinds first, then by name. */
export function diffResources(base: readonly ResourceSide[], head: readonly ResourceSide[]): ResourceChange[] {
  const baseByKey = new Map<string, ResourceSide>();
  for (const side of base) if (!baseByKey.has(key(side.resource))) baseByKey.set(key(side.resource), side);
  const headByKey = new Map<string, ResourceSide>();
  for (const side of head) if (!headByKey.has(key(side.resource))) headByKey.set(key(side.resource), side);
  const changes: ResourceChange[] = [];
  for (const [id, next] of headByKey) {
    const { kind, metadata } = next.resource;
    const old = baseByKey.get(id);
    if (!old) {
      changes.push({ kind, name: metadata.name, type: 'added', file: next.file, fields: [] });
      continue;
    }
    const fields = diffValues(old.resource as unknown as JsonValue, next.resource as unknown as JsonValue);
    if (fields.length > 0) changes.push({ kind, name: metadata.name, type: 'changed', file: next.file, fields });
  }
  for (const [id, old] of baseByKey) {
    if (!headByKey.has(id)) {
      changes.push({ kind: old.resource.kind, name: old.resource.metadata.name, type: 'removed', file: old.file, fields: [] });
    }
  }
  return changes.sort(compareChanges);
}
