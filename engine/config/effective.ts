// The effective config of one device, and its stable hash. Secrets are resolved here and nowhere else.
import { createHash } from 'node:crypto';
import { canonicalJson, type DeviceIdentity, type DeviceProfile, type JsonObject, type JsonValue, type Snapshot, type WifiNetwork } from '../model/index.ts';
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

/**
 * Deep merge: objects merge key by key, arrays and scalars replace. A SecretValue is a scalar
 * (an override's secret replaces the whole secret, never merges into it). `null` replaces too.
 */
export function mergeConfig(base: JsonObject, override: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value) && !isSecretValue(value) && !isSecretValue(current)
        ? mergeConfig(current, value)
        : value;
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

/** Least privilege: a profile whose configSchema has no `wifi` field (a beacon) never receives Wi-Fi credentials. */
function receivesWifi(profile: DeviceProfile): boolean {
  const schema = profile.spec.configSchema;
  if (!schema) return true;
  const properties = schema.properties;
  return typeof properties === 'object' && properties !== null && !Array.isArray(properties) && 'wifi' in properties;
}

function mapSecrets(value: JsonValue, replace: (secret: Parameters<SecretVault['reveal']>[0]) => string): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (isSecretValue(value)) return replace(value);
  if (Array.isArray(value)) return value.map((item) => mapSecrets(item, replace));
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) out[key] = mapSecrets(item, replace);
  return out;
}

/**
 * profile defaults ⊕ site config (with the site's Wi-Fi networks as `wifi`) ⊕ the device's groups in
 * priority order (ties by name) ⊕ the device override. Secrets are revealed from the vault; the hash covers
 * them through the vault's keyed digest, never the plaintext.
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

  let merged: JsonObject = mergeConfig({}, profile.spec.defaults ?? {});
  const siteLayer: JsonObject = { ...(site.spec.config ?? {}) };
  if (site.spec.wifi && site.spec.wifi.length > 0 && receivesWifi(profile)) siteLayer.wifi = wifiConfig(site.spec.wifi);
  merged = mergeConfig(merged, siteLayer);
  for (const group of groupsForDevice(snapshot, device)) {
    if (group.spec.config) merged = mergeConfig(merged, group.spec.config);
  }
  if (device.configOverride) merged = mergeConfig(merged, device.configOverride);

  const config = mapSecrets(merged, (secret) => secrets.reveal(secret)) as JsonObject;
  const hashed = mapSecrets(merged, (secret) => secrets.digest(secret)) as JsonObject;
  return { config, hash: configHash(hashed) };
}
