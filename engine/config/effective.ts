// The effective config of one device, and its stable hash. Secrets are resolved here and nowhere else,
// and only where git declares them.
import { createHash } from 'node:crypto';
import { canonicalJson, type DeviceIdentity, type DeviceProfile, type JsonObject, type JsonValue, type SecretValue, type Site, type Snapshot, type WifiNetwork } from '../model/index.ts';
import { profileConfigSchema, type PathPattern } from './profile-schema.ts';
import { groupsForDevice } from './selector.ts';
import { isSecretValue, type SecretVault } from './secrets.ts';

export class UnknownDeviceReferenceError extends Error {
  readonly code = 'unknown-reference';
  constructor(readonly data: { device: string; kind: 'profile' | 'site'; name: string }) {
    super(`device ${data.device} names ${data.kind} '${data.name}', which the snapshot does not declare`);
    this.name = 'UnknownDeviceReferenceError';
  }
}

function isPlainObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a key as data: a key named `__proto__` (JSON allows it) must not become the object's prototype. */
function put(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Deep merge: objects merge key by key, arrays and scalars replace. A SecretValue is a scalar
 * (an override's secret replaces the whole secret, never merges into it). `null` replaces too.
 */
export function mergeConfig(base: JsonObject, override: JsonObject): JsonObject {
  const merged: JsonObject = {};
  for (const key of Object.keys(base)) put(merged, key, base[key] as JsonValue);
  for (const key of Object.keys(override)) {
    const value = override[key] as JsonValue;
    const current = Object.prototype.hasOwnProperty.call(merged, key) ? merged[key] : undefined;
    put(
      merged,
      key,
      isPlainObject(current) && isPlainObject(value) && !isSecretValue(value) && !isSecretValue(current) ? mergeConfig(current, value) : value,
    );
  }
  return merged;
}

export function configHash(config: JsonObject): string {
  return 'sha256:' + createHash('sha256').update(canonicalJson(config)).digest('hex');
}

function wifiConfig(networks: readonly WifiNetwork[]): JsonValue[] {
  return networks.map((network) => {
    const entry: JsonObject = { ssid: network.ssid, security: network.security ?? 'wpa2-psk' };
    if (network.password) entry.password = network.password as unknown as JsonObject;
    if (network.priority !== undefined) entry.priority = network.priority;
    return entry;
  });
}

/**
 * What a site adds to the config of a device of this profile: its `config`, and its Wi-Fi networks as
 * `wifi` when the profile receives Wi-Fi (a beacon, whose schema has no `wifi`, never gets credentials).
 */
export function siteLayer(site: Site, profile: DeviceProfile): JsonObject {
  return siteLayerWith(site, profileConfigSchema(profile).receivesWifi);
}

/** The site's layer with or without its Wi-Fi networks. */
export function siteLayerWith(site: Site, wifi: boolean): JsonObject {
  const layer = mergeConfig({}, site.spec.config ?? {});
  if (wifi && site.spec.wifi && site.spec.wifi.length > 0) put(layer, 'wifi', wifiConfig(site.spec.wifi));
  return layer;
}

/** The value with the secrets at the given paths replaced; secret-shaped values anywhere else stay data. */
function replaceSecretsAt(value: JsonValue, patterns: readonly PathPattern[], depth: number, replace: (secret: SecretValue) => string): JsonValue {
  if (patterns.length === 0 || value === null || typeof value !== 'object') return value;
  if (isSecretValue(value)) return patterns.some((p) => p.length === depth) ? replace(value) : value;
  const deeper = (key: string | number): PathPattern[] => patterns.filter((p) => p.length > depth && (p[depth] === '*' || p[depth] === String(key)));
  if (Array.isArray(value)) return value.map((item, i) => replaceSecretsAt(item, deeper(i), depth + 1, replace));
  const out: JsonObject = {};
  for (const key of Object.keys(value)) put(out, key, replaceSecretsAt(value[key] as JsonValue, deeper(key), depth + 1, replace));
  return out;
}

/**
 * profile defaults ⊕ site layer ⊕ the device's groups in priority order (ties by name) ⊕ the device override.
 * Secrets of the git layers are revealed from the vault where git declares them (the profile's x-secret
 * fields, the site's Wi-Fi passwords); the hash covers them through the vault's keyed digest, never the
 * plaintext. The override comes from the API: it is merged after the secrets are revealed, so nothing in it
 * is ever decrypted or resolved, and a secret-shaped value in it replaces what git has there as plain data.
 */
export function effectiveConfig(
  snapshot: Snapshot,
  device: DeviceIdentity,
  secrets: SecretVault,
): { config: JsonObject; hash: string } {
  const profile = snapshot.profiles.get(device.profile);
  if (!profile) throw new UnknownDeviceReferenceError({ device: device.id, kind: 'profile', name: device.profile });
  const site = snapshot.sites.get(device.site);
  if (!site) throw new UnknownDeviceReferenceError({ device: device.id, kind: 'site', name: device.site });

  let fromGit: JsonObject = mergeConfig({}, profile.spec.defaults ?? {});
  fromGit = mergeConfig(fromGit, siteLayer(site, profile));
  for (const group of groupsForDevice(snapshot, device)) {
    if (group.spec.config) fromGit = mergeConfig(fromGit, group.spec.config);
  }
  const declared = profileConfigSchema(profile).secretPatterns;
  let config = replaceSecretsAt(fromGit, declared, 0, (secret) => secrets.reveal(secret)) as JsonObject;
  let hashed = replaceSecretsAt(fromGit, declared, 0, (secret) => secrets.digest(secret)) as JsonObject;
  if (device.configOverride) {
    config = mergeConfig(config, device.configOverride);
    hashed = mergeConfig(hashed, device.configOverride);
  }
  return { config, hash: configHash(hashed) };
}
