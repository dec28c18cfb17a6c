// Issue 16, item 1: "validated by JSON Schema" means the config a device receives. Every layer git can put
// into a device's config — a site's, a group's, and for schemas that relate keys the combinations — is
// checked against the configSchema of every profile it reaches, at the line of the value that breaks it.
import { describe, expect, it } from 'vitest';
import { MAX_COMBINATIONS_PER_PROFILE, VALIDATE_CHECKS, compileSnapshot, effectiveConfig, SecretVault } from '../../engine/config/index.ts';
import type { Issue } from '../../engine/model/index.ts';
import { exampleFleetTree, fleetWith } from './fixtures.ts';
import { codes, expectIssue } from './support.ts';

const GROUPS = 'fleet-config/groups/groups.yaml';

/** A strict tracker profile (like the example locator) and a beacon that knows nothing of GPS. */
const PROFILES = {
  'fleet-config/profiles/locator.yaml': `apiVersion: fleetform/v1
kind: DeviceProfile
metadata: { name: locator }
spec:
  hardware: tracker
  components: [mcu, ble]
  role: locator
  checkIn: { intervalSeconds: 1800 }
  configSchema:
    type: object
    additionalProperties: false
    properties:
      reportIntervalSeconds: { type: integer, minimum: 60, maximum: 86400 }
      gps:
        type: object
        additionalProperties: false
        properties:
          mode: { enum: [always, on-movement, "off"] }
          fixTimeoutSeconds: { type: integer, minimum: 10 }
      movementLock: { type: boolean }
      cloud: { type: object, properties: { region: { type: string }, apiKey: { type: string, x-secret: true } } }
  defaults: { reportIntervalSeconds: 1800, gps: { mode: on-movement }, movementLock: false }
`,
  'fleet-config/profiles/beacon.yaml': `apiVersion: fleetform/v1
kind: DeviceProfile
metadata: { name: beacon }
spec:
  hardware: tracker
  components: [mcu, ble]
  role: beacon
  checkIn: { intervalSeconds: 3600 }
  configSchema:
    type: object
    additionalProperties: false
    properties:
      reportIntervalSeconds: { type: integer, minimum: 600 }
  defaults: { reportIntervalSeconds: 3600 }
`,
};

const compile = (files: Record<string, string>) => compileSnapshot(fleetWith({ ...PROFILES, ...files }), { checks: VALIDATE_CHECKS });

function only(issues: readonly Issue[], code: string): Issue[] {
  return issues.filter((issue) => issue.code === code);
}

describe('a group that breaks a profile’s schema', () => {
  it('is an error at each value, naming the profile: the review’s group with reportIntervalSeconds 1, gps.mode turbo, movementLock "yes"', async () => {
    const { snapshot, issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: night-shift }
spec:
  selector: { matchLabels: { shift: night } }
  profiles: [locator]
  priority: 10
  config:
    reportIntervalSeconds: 1
    gps: { mode: turbo }
    movementLock: "yes"
`,
    });
    expect(snapshot).toBeNull();
    const at = (line: number, column: number, path: string): Issue => expectIssue(issues, { code: 'config-schema-violation', file: GROUPS, line, column, path });
    expect(at(9, 28, '/spec/config/reportIntervalSeconds').message).toMatch(/must be >= 60 — for profile locator \(at any site\)/);
    expect(at(10, 18, '/spec/config/gps/mode').message).toMatch(/must be one of "always", "on-movement", "off"/);
    expect(at(11, 19, '/spec/config/movementLock').message).toMatch(/must be boolean/);
    expect(only(issues, 'config-schema-violation')).toHaveLength(3); // the beacon is not among the group's profiles
  });

  it('a group for every profile is checked against each, and additionalProperties is honoured', async () => {
    const { issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: quiet }
spec:
  selector: { matchLabels: { mode: quiet } }
  priority: 10
  config: { reportIntervalSeconds: 300, bogus: { x: 1 } }
`,
    });
    const interval = expectIssue(issues, { code: 'config-schema-violation', file: GROUPS, line: 7, path: '/spec/config/reportIntervalSeconds' });
    expect(interval.message).toMatch(/must be >= 600 — for profile beacon/);
    const bogus = expectIssue(issues, { code: 'config-schema-violation', file: GROUPS, line: 7, column: 48, path: '/spec/config/bogus' });
    expect(bogus.message).toMatch(/unknown field 'bogus' in config — for profiles beacon, locator/);
  });

  it('a group restricted to sites says so', async () => {
    const { issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: lot-b-trackers }
spec:
  profiles: [locator]
  sites: [lot-b]
  priority: 1
  config: { gps: { fixTimeoutSeconds: 2 } }
`,
    });
    const issue = expectIssue(issues, { code: 'config-schema-violation', file: GROUPS, line: 8, path: '/spec/config/gps/fixTimeoutSeconds' });
    expect(issue.message).toContain("for profile locator (the group's sites: lot-b)");
  });
});

describe('a site’s config reaches every profile at the site', () => {
  it('tracker settings in a site break the beacon’s schema, at the site', async () => {
    const site = `apiVersion: fleetform/v1
kind: Site
metadata: { name: lot-a }
spec:
  tenant: acme
  timezone: America/Denver
  config:
    reportIntervalSeconds: 900
    gps: { fixTimeoutSeconds: 180 }
`;
    const { snapshot, issues } = await compile({ 'fleet-config/sites/lot-a.yaml': site, [GROUPS]: '' });
    expect(snapshot).toBeNull();
    const issue = expectIssue(issues, { code: 'config-schema-violation', file: 'fleet-config/sites/lot-a.yaml', line: 9, column: 10, path: '/spec/config/gps' });
    expect(issue.message).toBe("unknown field 'gps' in config — for profile beacon");
    expect(codes(issues)).toEqual(['config-schema-violation']);
  });

  it('the way out: the setting in a group with the site and the profile, which holds every such device', async () => {
    const { snapshot, issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: lot-a-trackers }
spec:
  profiles: [locator]
  sites: [lot-a]
  priority: 0
  config: { gps: { fixTimeoutSeconds: 180 } }
`,
    });
    expect(issues).toEqual([]);
    const config = effectiveConfig(snapshot!, { id: 'car-1', profile: 'locator', site: 'lot-a', labels: {} }, new SecretVault()).config;
    expect(config.gps).toEqual({ mode: 'on-movement', fixTimeoutSeconds: 180 });
    const beacon = effectiveConfig(snapshot!, { id: 'b-1', profile: 'beacon', site: 'lot-a', labels: {} }, new SecretVault()).config;
    expect(beacon).toEqual({ reportIntervalSeconds: 900 });
  });

  it('listed devices of a group are restricted by its profiles too', async () => {
    const { snapshot, issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: field-engineering }
spec:
  devices: [dev-1]
  profiles: [locator]
  priority: 100
  config: { movementLock: true }
`,
    });
    expect(issues).toEqual([]);
    const vault = new SecretVault();
    expect(effectiveConfig(snapshot!, { id: 'dev-1', profile: 'locator', site: 'lot-b', labels: {} }, vault).config.movementLock).toBe(true);
    expect(effectiveConfig(snapshot!, { id: 'dev-1', profile: 'beacon', site: 'lot-b', labels: {} }, vault).config).toEqual({ reportIntervalSeconds: 3600 });
  });

  it('a secret in a field the schema does not mark x-secret is an error: it would never be decrypted', async () => {
    const { issues } = await compile({
      [GROUPS]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: leak }
spec:
  selector: {}
  profiles: [locator]
  priority: 1
  config: { cloud: { region: { secretRef: { env: FLEETFORM_SECRET_REGION } } } }
`,
    });
    const issue = expectIssue(issues, { code: 'undeclared-secret', file: GROUPS, line: 8, path: '/spec/config/cloud/region' });
    expect(issue.message).toContain('for profile locator');
  });
});

describe('schemas that relate keys: the combinations git can produce', () => {
  /** Locator whose schema says: with gps.mode "off" there is no fixTimeoutSeconds. */
  const relational = (PROFILES['fleet-config/profiles/locator.yaml'] ?? '').replace(
    `          fixTimeoutSeconds: { type: integer, minimum: 10 }
`,
    `          fixTimeoutSeconds: { type: integer, minimum: 10 }
        if: { properties: { mode: { const: "off" } }, required: [mode] }
        then: { not: { required: [fixTimeoutSeconds] } }
`,
  );
  const groups = (second: string): string => `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: gps-off }
spec:
  selector: { matchLabels: { zone: basement } }
  profiles: [locator]
  priority: 10
  config: { gps: { mode: "off" } }
---
apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: slow-fix }
spec:
  selector: ${second}
  profiles: [locator]
  priority: 20
  config: { gps: { fixTimeoutSeconds: 120 } }
`;

  it('two groups a device can be in at once break it together: the error is at the later one, naming site and groups', async () => {
    const { snapshot, issues } = await compile({ 'fleet-config/profiles/locator.yaml': relational, [GROUPS]: groups('{ matchLabels: { fix: slow } }') });
    expect(snapshot).toBeNull();
    const issue = expectIssue(issues, { code: 'config-schema-violation', file: GROUPS, line: 17, path: '/spec/config/gps' });
    expect(issue.message).toContain('for profile locator at sites lot-a, lot-b with groups gps-off, slow-fix (in merge order)');
    expect(codes(issues)).toEqual(['config-schema-violation']);
  });

  it('groups whose selectors exclude each other never combine: no error', async () => {
    const { issues } = await compile({ 'fleet-config/profiles/locator.yaml': relational, [GROUPS]: groups('{ matchExpressions: [{ key: zone, operator: NotIn, values: [basement] }] }') });
    expect(issues).toEqual([]);
  });

  it('past the bound, what was not checked is a warning at the profile’s configSchema', async () => {
    const many = Array.from(
      { length: 12 },
      (_, i) => `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: cohort-${i} }
spec:
  selector: { matchLabels: { cohort-${i}: "yes" } }
  profiles: [locator]
  priority: ${i}
  config: { reportIntervalSeconds: ${600 + i} }
`,
    ).join('---\n');
    const { snapshot, issues } = await compile({ 'fleet-config/profiles/locator.yaml': relational, [GROUPS]: many });
    expect(2 ** 12).toBeGreaterThan(MAX_COMBINATIONS_PER_PROFILE);
    expect(snapshot).not.toBeNull();
    const warning = expectIssue(issues, { code: 'config-combinations-unchecked', file: 'fleet-config/profiles/locator.yaml', line: 10, path: '/spec/configSchema' });
    expect(warning.severity).toBe('warning');
    expect(warning.message).toContain(`${MAX_COMBINATIONS_PER_PROFILE} combinations`);
  });
});

describe('the example fleet', () => {
  it('keeps every layer within the schemas of the profiles it reaches', async () => {
    const { issues } = await compileSnapshot(exampleFleetTree(), { checks: VALIDATE_CHECKS });
    expect(issues).toEqual([]);
  });
});
