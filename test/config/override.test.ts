// Issue 14, item 3 (config half) and issue 16, item 1: a device override from the API is data checked like
// git — against the profile's configSchema with the JSON path of each error — and never carries a secret;
// and the effective config never decrypts or resolves anything that came from an override.
import { describe, expect, it } from 'vitest';
import { checkDeviceLabels, checkDeviceOverride, compileSnapshot, effectiveConfig, encryptSecret, type InputIssue } from '../../engine/config/index.ts';
import type { DeviceIdentity, JsonObject, Snapshot } from '../../engine/model/index.ts';
import { DEMO_IDENTITY, DEMO_RECIPIENT, exampleFleetTree, fleetWith } from './fixtures.ts';

const tracker: DeviceIdentity = { id: 'car-1', profile: 'locator', site: 'northstar-denver', labels: { usage: 'inventory' } };

async function example(): Promise<{ snapshot: Snapshot; secrets: Awaited<ReturnType<typeof compileSnapshot>>['secrets'] }> {
  const { snapshot, secrets, issues } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY });
  expect(issues).toEqual([]);
  return { snapshot: snapshot as Snapshot, secrets };
}

function paths(issues: readonly InputIssue[]): [string, string][] {
  return issues.map((issue) => [issue.code, issue.path]);
}

describe('checkDeviceOverride', () => {
  it('accepts an override the profile’s schema allows', async () => {
    const { snapshot } = await example();
    expect(checkDeviceOverride(snapshot, tracker, { reportIntervalSeconds: 600, gps: { mode: 'always' } }, '/config')).toEqual([]);
    expect(checkDeviceOverride(snapshot, tracker, undefined)).toEqual([]);
  });

  it('names the JSON path of each value that breaks the schema (additionalProperties honoured)', async () => {
    const { snapshot } = await example();
    const issues = checkDeviceOverride(snapshot, tracker, { reportIntervalSeconds: 5, bogus: { nested: true }, gps: { mode: 'turbo' } }, '/config');
    expect(paths(issues).sort()).toEqual([
      ['config-schema-violation', '/config/bogus'],
      ['config-schema-violation', '/config/gps/mode'],
      ['config-schema-violation', '/config/reportIntervalSeconds'],
    ]);
    expect(issues.find((i) => i.path === '/config/reportIntervalSeconds')?.message).toMatch(/must be >= 60 \(profile locator's configSchema\)/);
  });

  it('refuses the secret forms of the security review: another tenant’s ciphertext, a reference to the admin token', async () => {
    const { snapshot } = await example();
    const denver = snapshot.sites.get('northstar-denver')?.spec.wifi?.[0]?.password as { encrypted: string };
    const lakeside: DeviceIdentity = { id: 'lk-1', profile: 'locator', site: 'lakeside-chicago', labels: {} };
    expect(paths(checkDeviceOverride(snapshot, lakeside, { leak: { encrypted: denver.encrypted } }, '/config'))).toEqual([['secret-in-override', '/config/leak/encrypted']]);
    expect(paths(checkDeviceOverride(snapshot, lakeside, { leak: { secretRef: { env: 'FLEETFORM_ADMIN_TOKEN' } } }, '/config'))).toEqual([
      ['secret-in-override', '/config/leak/secretRef'],
    ]);
    // A beacon asking for Wi-Fi credentials through its override.
    const beacon: DeviceIdentity = { id: 'b-1', profile: 'beacon', site: 'northstar-denver', labels: {} };
    expect(checkDeviceOverride(snapshot, beacon, { wifi: [{ ssid: 'x', password: { encrypted: denver.encrypted } }] }).map((i) => i.code)).toContain('secret-in-override');
  });

  it('refuses any value, plaintext included, in a field the profile declares secret (x-secret, Wi-Fi passwords)', async () => {
    const { snapshot } = await example();
    expect(paths(checkDeviceOverride(snapshot, tracker, { wifi: [{ ssid: 'Mine', password: 'hunter2' }] }, '/config'))).toEqual([
      ['secret-in-override', '/config/wifi/0/password'],
    ]);
  });

  it('refuses what is not plain bounded JSON', async () => {
    const { snapshot } = await example();
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(checkDeviceOverride(snapshot, tracker, [1, 2])[0]?.code).toBe('invalid-override');
    expect(checkDeviceOverride(snapshot, tracker, deep)[0]?.code).toBe('invalid-override');
    expect(checkDeviceOverride(snapshot, tracker, JSON.parse('{"__proto__": {"movementLock": true}}'))[0]?.code).toBe('invalid-override');
    expect(checkDeviceOverride(snapshot, tracker, { reportIntervalSeconds: Number.NaN })[0]?.code).toBe('invalid-override');
    expect(checkDeviceOverride(snapshot, tracker, { diagnostics: { blob: 'x'.repeat(20_000) } })[0]?.code).toBe('invalid-override');
    expect(checkDeviceOverride(snapshot, { ...tracker, profile: 'nope' }, {})[0]).toMatchObject({ code: 'unknown-profile', path: '/profile' });
  });

  it('for a schema relating keys, judges the config the device would receive, blaming only what the override adds', async () => {
    const relational = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata:
  name: locator
spec:
  hardware: tracker
  components: [mcu, ble]
  role: locator
  checkIn: { intervalSeconds: 1800 }
  configSchema:
    type: object
    properties:
      gps:
        type: object
        properties: { mode: { enum: [always, "off"] }, fixTimeoutSeconds: { type: integer } }
        if: { properties: { mode: { const: "off" } }, required: [mode] }
        then: { not: { required: [fixTimeoutSeconds] } }
  defaults: { gps: { mode: "off" } }
`;
    const { snapshot, issues } = await compileSnapshot(fleetWith({ 'fleet-config/profiles/locator.yaml': relational }));
    expect(issues).toEqual([]);
    const device: DeviceIdentity = { id: 'd', profile: 'locator', site: 'lot-a', labels: {} };
    // On its own the override is fine; merged over the defaults' mode "off" it is not.
    expect(paths(checkDeviceOverride(snapshot as Snapshot, device, { gps: { fixTimeoutSeconds: 30 } }, '/config'))).toEqual([['config-schema-violation', '/config/gps']]);
    expect(checkDeviceOverride(snapshot as Snapshot, device, { gps: { mode: 'always', fixTimeoutSeconds: 30 } })).toEqual([]);
  });
});

describe('checkDeviceLabels', () => {
  it('follows the rules of labels in git', () => {
    expect(checkDeviceLabels({ usage: 'demo', 'fleet.example/zone': 'b1' })).toEqual([]);
    expect(paths(checkDeviceLabels({ 'bad key!': 'x', ok: 'y'.repeat(64), n: 5 as unknown as string }))).toEqual([
      ['invalid-labels', '/labels/bad key!'],
      ['invalid-labels', '/labels/ok'],
      ['invalid-labels', '/labels/n'],
    ]);
    expect(checkDeviceLabels(['a'])[0]?.code).toBe('invalid-labels');
    expect(checkDeviceLabels(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])))[0]?.code).toBe('invalid-labels');
  });
});

describe('the effective config never reveals what an override holds', () => {
  it('another site’s ciphertext in an override stays ciphertext, although the vault holds its plaintext', async () => {
    const { snapshot, secrets } = await example();
    const denver = snapshot.sites.get('northstar-denver')?.spec.wifi?.[0]?.password as { encrypted: string };
    const plaintext = secrets.reveal(denver);
    const lakeside: DeviceIdentity = { id: 'lk-1', profile: 'locator', site: 'lakeside-chicago', labels: {}, configOverride: { leak: { encrypted: denver.encrypted } } };
    const { config } = effectiveConfig(snapshot, lakeside, secrets);
    expect(JSON.stringify(config)).not.toContain(plaintext);
    expect(config.leak).toEqual({ encrypted: denver.encrypted });
  });

  it('an override’s secret replaces git’s secret whole — never merged into it, never resolved', async () => {
    const profile = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata: { name: locator }
spec:
  hardware: tracker
  components: [mcu, ble]
  role: locator
  checkIn: { intervalSeconds: 1800 }
  configSchema:
    type: object
    properties:
      cloud: { type: object, properties: { region: { type: string }, apiKey: { type: string, x-secret: true } } }
  defaults:
    cloud:
      region: eu
      apiKey: { encrypted: ${JSON.stringify(await encryptSecret('key-from-git', [DEMO_RECIPIENT]))} }
`;
    const { snapshot, secrets, issues } = await compileSnapshot(fleetWith({ 'fleet-config/profiles/locator.yaml': profile }), { identity: DEMO_IDENTITY });
    expect(issues).toEqual([]);
    const device = (configOverride?: JsonObject): DeviceIdentity => ({ id: 'd', profile: 'locator', site: 'lot-b', labels: {}, ...(configOverride ? { configOverride } : {}) });
    const plain = effectiveConfig(snapshot as Snapshot, device(), secrets);
    expect(plain.config.cloud).toEqual({ region: 'eu', apiKey: 'key-from-git' });

    const reference = { secretRef: { env: 'FLEETFORM_ADMIN_TOKEN' } };
    const replaced = effectiveConfig(snapshot as Snapshot, device({ cloud: { apiKey: reference } }), secrets);
    expect(replaced.config.cloud).toEqual({ region: 'eu', apiKey: reference });
    expect(JSON.stringify(replaced.config)).not.toContain('key-from-git');

    // A plain field beside it merges; git's secret is still revealed where git declares it.
    const merged = effectiveConfig(snapshot as Snapshot, device({ cloud: { region: 'us' } }), secrets);
    expect(merged.config.cloud).toEqual({ region: 'us', apiKey: 'key-from-git' });
    expect(new Set([plain.hash, replaced.hash, merged.hash]).size).toBe(3);
  });
});
