// The effective config of a device: profile defaults ⊕ site ⊕ groups by priority ⊕ device override, with a stable hash.
import { describe, expect, it } from 'vitest';
import {
  SecretUnavailableError,
  canonicalJson,
  compileSnapshot,
  configHash,
  effectiveConfig,
  encryptSecret,
  groupsForDevice,
  type CompileResult,
} from '../../engine/config/index.ts';
import type { DeviceIdentity, JsonObject, Snapshot } from '../../engine/model/index.ts';
import { DEMO_IDENTITY, DEMO_RECIPIENT, exampleFleetTree, fleetWith } from './fixtures.ts';

const GROUPS = `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: demo-cars }
spec:
  selector: { matchLabels: { usage: demo } }
  priority: 10
  config: { reportIntervalSeconds: 600, gps: { mode: always }, tags: [demo] }
---
apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: b-night }
spec:
  selector: { matchLabels: { shift: night } }
  priority: 20
  config: { reportIntervalSeconds: 300 }
---
apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: a-night }
spec:
  selector: { matchLabels: { shift: night } }
  priority: 20
  config: { reportIntervalSeconds: 120, movementLock: true }
---
apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: lot-b-only }
spec:
  sites: [lot-b]
  priority: 5
  config: { gps: { mode: "off" } }
`;

async function compiled(): Promise<{ snapshot: Snapshot; result: CompileResult }> {
  const result = await compileSnapshot(fleetWith({ 'fleet-config/groups/groups.yaml': GROUPS }));
  expect(result.issues).toEqual([]);
  return { snapshot: result.snapshot as Snapshot, result };
}

const device = (overrides: Partial<DeviceIdentity> = {}): DeviceIdentity => ({
  id: 'trk-1',
  profile: 'locator',
  site: 'lot-a',
  labels: {},
  ...overrides,
});

describe('merge order', () => {
  it('starts from the profile defaults and lets the site override them', async () => {
    const { snapshot, result } = await compiled();
    const { config } = effectiveConfig(snapshot, device(), result.secrets);
    expect(config.reportIntervalSeconds).toBe(900); // site lot-a overrides the profile's 1800
    expect(config.gps).toEqual({ mode: 'on-movement', fixTimeoutSeconds: 90 });
  });

  it('applies groups after the site, in priority order, ties broken by name, then the device override', async () => {
    const { snapshot, result } = await compiled();
    const night = device({ labels: { usage: 'demo', shift: 'night' } });
    expect(groupsForDevice(snapshot, night).map((g) => g.metadata.name)).toEqual(['demo-cars', 'a-night', 'b-night']);
    // b-night (priority 20, name after a-night) wins over a-night and demo-cars
    expect(effectiveConfig(snapshot, night, result.secrets).config.reportIntervalSeconds).toBe(300);
    expect(effectiveConfig(snapshot, night, result.secrets).config.movementLock).toBe(true);
    const overridden = { ...night, configOverride: { reportIntervalSeconds: 60 } };
    expect(effectiveConfig(snapshot, overridden, result.secrets).config.reportIntervalSeconds).toBe(60);
  });

  it('merges objects key by key, but replaces arrays and scalars', async () => {
    const { snapshot, result } = await compiled();
    const { config } = effectiveConfig(snapshot, device({ labels: { usage: 'demo' } }), result.secrets);
    expect(config.gps).toEqual({ mode: 'always', fixTimeoutSeconds: 90 }); // merged
    expect(config.tags).toEqual(['demo']); // replaced, not ['default', 'demo']
  });

  it('applies a group restricted to sites only to devices at those sites', async () => {
    const { snapshot, result } = await compiled();
    expect((effectiveConfig(snapshot, device({ site: 'lot-b' }), result.secrets).config.gps as JsonObject).mode).toBe('off');
    expect((effectiveConfig(snapshot, device({ site: 'lot-a' }), result.secrets).config.gps as JsonObject).mode).toBe('on-movement');
  });
});

describe('config hash', () => {
  it('is sha256 over canonical JSON: key order does not change it, a value does', () => {
    const a = { b: 1, a: { y: [1, 2], x: 'z' } };
    const b = { a: { x: 'z', y: [1, 2] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(configHash(a)).toBe(configHash(b));
    expect(configHash(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(configHash({ ...a, b: 2 })).not.toBe(configHash(a));
    expect(configHash({ b: 1, a: { y: [2, 1], x: 'z' } })).not.toBe(configHash(a)); // array order matters
  });

  it('is the same for the same device whatever the order of the YAML keys and files', async () => {
    const { snapshot, result } = await compiled();
    const reordered = await compileSnapshot(
      fleetWith({
        'fleet-config/groups/groups.yaml': GROUPS.replace(
          'config: { reportIntervalSeconds: 600, gps: { mode: always }, tags: [demo] }',
          'config: { tags: [demo], gps: { mode: always }, reportIntervalSeconds: 600 }',
        ),
      }),
    );
    const d = device({ labels: { usage: 'demo' } });
    expect(effectiveConfig(reordered.snapshot as Snapshot, d, reordered.secrets).hash).toBe(effectiveConfig(snapshot, d, result.secrets).hash);
    expect(effectiveConfig(snapshot, device(), result.secrets).hash).not.toBe(effectiveConfig(snapshot, d, result.secrets).hash);
  });
});

describe('Wi-Fi and secrets in the effective config', () => {
  it('gives a device the decrypted Wi-Fi of its own site only', async () => {
    const { snapshot, secrets } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY });
    if (!snapshot) throw new Error('example fleet must compile');
    const denver = effectiveConfig(snapshot, { id: 'trk-9', profile: 'locator', site: 'northstar-denver', labels: {} }, secrets).config;
    const chicago = effectiveConfig(snapshot, { id: 'trk-8', profile: 'locator', site: 'lakeside-chicago', labels: {} }, secrets).config;
    const ssids = (config: JsonObject): string[] => ((config.wifi ?? []) as JsonObject[]).map((n) => String(n.ssid));
    const denverSsids = (snapshot.sites.get('northstar-denver')?.spec.wifi ?? []).map((n) => n.ssid);
    const chicagoSsids = (snapshot.sites.get('lakeside-chicago')?.spec.wifi ?? []).map((n) => n.ssid);
    expect(ssids(denver)).toEqual(denverSsids);
    expect(ssids(chicago)).toEqual(chicagoSsids);
    expect(ssids(denver).some((s) => chicagoSsids.includes(s))).toBe(false);
    for (const network of denver.wifi as JsonObject[]) {
      expect(typeof network.password).toBe('string'); // decrypted, not {encrypted: …}
      expect(String(network.password)).not.toContain('AGE ENCRYPTED');
    }
  });

  it('gives beacons no Wi-Fi credentials: their profile has no wifi field', async () => {
    const { snapshot, secrets } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY });
    if (!snapshot) throw new Error('example fleet must compile');
    const beacon = effectiveConfig(snapshot, { id: 'bcn-1', profile: 'beacon', site: 'northstar-denver', labels: {} }, secrets).config;
    expect(beacon.wifi).toBeUndefined();
  });

  it('reveals the password in the config but never puts it in the hash input', async () => {
    const encrypted = await encryptSecret('correct horse battery', [DEMO_RECIPIENT]);
    const site = `apiVersion: fleetform/v1
kind: Site
metadata: { name: lot-a }
spec:
  tenant: acme
  timezone: UTC
  wifi:
    - ssid: Lot-A
      password: { encrypted: ${JSON.stringify(encrypted)} }
`;
    const { snapshot, secrets, issues } = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': site }), { identity: DEMO_IDENTITY });
    expect(issues).toEqual([]);
    const { config, hash } = effectiveConfig(snapshot as Snapshot, device(), secrets);
    expect(config.wifi).toEqual([{ ssid: 'Lot-A', security: 'wpa2-psk', password: 'correct horse battery' }]);
    expect(hash).not.toBe(configHash(config)); // the plaintext config is not what is hashed

    const changed = await encryptSecret('another password', [DEMO_RECIPIENT]);
    const again = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': site.replace(JSON.stringify(encrypted), JSON.stringify(changed)) }), {
      identity: DEMO_IDENTITY,
    });
    expect(effectiveConfig(again.snapshot as Snapshot, device(), again.secrets).hash).not.toBe(hash); // a new password is a new config

    const reencrypted = await encryptSecret('correct horse battery', [DEMO_RECIPIENT]);
    const same = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': site.replace(JSON.stringify(encrypted), JSON.stringify(reencrypted)) }), {
      identity: DEMO_IDENTITY,
    });
    expect(effectiveConfig(same.snapshot as Snapshot, device(), same.secrets).hash).toBe(hash); // same plaintext, same hash
  });

  it('a new password at one site leaves the config hash of devices at other sites alone', async () => {
    const siteWithWifi = async (name: string, password: string): Promise<string> => `apiVersion: fleetform/v1
kind: Site
metadata: { name: ${name} }
spec:
  tenant: acme
  timezone: UTC
  wifi: [{ ssid: ${name}, password: { encrypted: ${JSON.stringify(await encryptSecret(password, [DEMO_RECIPIENT]))} } }]
`;
    const compileWith = async (lotAPassword: string) =>
      compileSnapshot(
        fleetWith({
          'fleet-config/sites/lot-a.yaml': await siteWithWifi('lot-a', lotAPassword),
          'fleet-config/sites/lot-b.yaml': await siteWithWifi('lot-b', 'lot-b-password'),
        }),
        { identity: DEMO_IDENTITY },
      );
    const before = await compileWith('first');
    const after = await compileWith('second');
    const hashAt = (result: CompileResult, site: string): string => effectiveConfig(result.snapshot as Snapshot, device({ site }), result.secrets).hash;
    expect(hashAt(after, 'lot-a')).not.toBe(hashAt(before, 'lot-a'));
    expect(hashAt(after, 'lot-b')).toBe(hashAt(before, 'lot-b'));
  });

  it('refuses to build a config whose secret the vault does not hold (compiled without the identity)', async () => {
    const { snapshot, secrets } = await compileSnapshot(exampleFleetTree());
    if (!snapshot) throw new Error('example fleet must compile');
    expect(() => effectiveConfig(snapshot, { id: 't', profile: 'locator', site: 'northstar-denver', labels: {} }, secrets)).toThrow(SecretUnavailableError);
    // a site without Wi-Fi needs no secret
    expect(() => effectiveConfig(snapshot, { id: 't', profile: 'locator', site: 'northstar-colorado-springs', labels: {} }, secrets)).not.toThrow();
  });
});
