// Each class of bad input is reported with its stable code at the place to fix, and rejects the revision.
import { describe, expect, it } from 'vitest';
import { compileSnapshot, type CompileOptions } from '../../engine/config/index.ts';
import type { SourceFile, SourceTree } from '../../engine/model/index.ts';
import { fleetWith } from './fixtures.ts';
import { codes, expectIssue } from './support.ts';

async function compile(tree: SourceTree, options?: CompileOptions) {
  const result = await compileSnapshot(tree, options);
  return result;
}

const SITE_C = (specLines: string): string => `apiVersion: fleetform/v1
kind: Site
metadata:
  name: lot-c
spec:
${specLines}`;

describe('bad files never crash the loader', () => {
  it('reports YAML syntax errors at their line, and keeps checking the other files', async () => {
    const { snapshot, issues } = await compile(
      fleetWith({
        'fleet-config/sites/dup.yaml': SITE_C('  tenant: acme\n  tenant: other\n  timezone: UTC\n'),
        'fleet-config/sites/nested.yaml': SITE_C('  tenant: acme: other\n  timezone: UTC\n'),
        'fleet-config/sites/lot-a.yaml': SITE_C('  tenant: globex\n  timezone: UTC\n'),
      }),
    );
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'yaml-syntax', file: 'fleet-config/sites/dup.yaml', line: 7, column: 3 });
    expectIssue(issues, { code: 'yaml-syntax', file: 'fleet-config/sites/nested.yaml', line: 6 });
    // an unrelated error elsewhere is still found
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/sites/lot-a.yaml', line: 6, column: 11 });
  });

  it('rejects binary content, oversized files, symlinks and non-YAML files in resource folders', async () => {
    const symlink: SourceFile = { path: 'fleet-config/sites/shared.yaml', type: 'symlink', content: new Uint8Array(0) };
    const big = 'apiVersion: fleetform/v1\n# ' + 'x'.repeat(1024 * 1024) + '\n';
    const { snapshot, issues } = await compile(
      fleetWith(
        {
          'fleet-config/sites/logo.yaml': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x0a]),
          'fleet-config/sites/latin1.yaml': new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xe9, 0x0a]),
          'firmware-manifests/huge.yaml': big,
          'rules/notes.txt': 'remember the milk',
          'rules/README.md': '# Alert rules',
          'schemas/not-a-resource-folder.txt': 'ignored',
        },
        [symlink],
      ),
    );
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'binary-file', file: 'fleet-config/sites/logo.yaml', line: 1 });
    expectIssue(issues, { code: 'binary-file', file: 'fleet-config/sites/latin1.yaml', line: 1 });
    expectIssue(issues, { code: 'file-too-large', file: 'firmware-manifests/huge.yaml', line: 1 });
    expectIssue(issues, { code: 'symlink', file: 'fleet-config/sites/shared.yaml', line: 1 });
    expectIssue(issues, { code: 'non-yaml-file', file: 'rules/notes.txt', line: 1 });
    expect(issues.filter((i) => i.file === 'rules/README.md' || i.file.startsWith('schemas/'))).toEqual([]);
  });

  it('honours a smaller size limit when one is given', async () => {
    const { issues } = await compile(fleetWith({}), { maxFileBytes: 200 });
    expectIssue(issues, { code: 'file-too-large', file: 'fleet-config/profiles/locator.yaml', line: 1 });
  });
});

describe('documents', () => {
  it('rejects a document that is not a resource, an unknown apiVersion and an unknown kind', async () => {
    const { issues } = await compile(
      fleetWith({
        'rules/list.yaml': '- just\n- a list\n',
        'rules/v2.yaml': 'apiVersion: fleetform/v2\nkind: AlertRule\nmetadata: { name: x }\nspec: {}\n',
        'rules/kind.yaml': 'apiVersion: fleetform/v1\nkind: Sight\nmetadata: { name: x }\nspec: {}\n',
      }),
    );
    expectIssue(issues, { code: 'not-a-resource', file: 'rules/list.yaml', line: 1, column: 1 });
    expectIssue(issues, { code: 'unknown-api-version', file: 'rules/v2.yaml', line: 1, column: 13 });
    expectIssue(issues, { code: 'unknown-kind', file: 'rules/kind.yaml', line: 2, column: 7 });
  });

  it('names the line of a mistyped field, suggests the right name, and reports the missing required one', async () => {
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: acme\n  timezon: UTC\n') }));
    const typo = expectIssue(issues, { code: 'schema', file: 'fleet-config/sites/lot-c.yaml', line: 7, path: '/spec/timezon' });
    expect(typo.message).toContain("did you mean 'timezone'");
    const missing = expectIssue(issues, { code: 'schema', file: 'fleet-config/sites/lot-c.yaml', line: 6, path: '/spec' });
    expect(missing.message).toContain("'timezone'");
  });

  it('reports a value out of range at its line', async () => {
    const rollout = `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector: { profiles: [locator] }
  target: { bundle: app-1.1.0 }
  waves:
    - { name: canary, percent: 5 }
    - { name: all, percent: 150 }
  activeWave: canary
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/rollout.yaml': rollout }));
    expectIssue(issues, { code: 'schema', file: 'firmware-manifests/rollout.yaml', line: 9, path: '/spec/waves/1/percent' });
  });

  it('rejects a second resource of the same kind and name, pointing at both', async () => {
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-a-copy.yaml': SITE_C('  tenant: acme\n  timezone: UTC\n').replace('lot-c', 'lot-a') }));
    const duplicate = expectIssue(issues, { code: 'duplicate-name', file: 'fleet-config/sites/lot-a.yaml', line: 4, column: 9 });
    // files are read in path order: lot-a-copy.yaml comes first, so lot-a.yaml is the duplicate
    expect(duplicate.message).toContain('fleet-config/sites/lot-a-copy.yaml:4:9');
  });
});

describe('semver, ranges, sha256 and timezones', () => {
  it('rejects a version that is not semver and a sha256 that is not 64 lowercase hex digits', async () => {
    const release = `apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-ble-1.1 }
spec:
  hardware: tracker
  component: ble
  version: "1.1"
  artifact:
    url: https://fw.example/ble-1.1.bin
    sha256: ABCDEF0123
    size: 1000
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/ble-1.1.yaml': release }));
    expectIssue(issues, { code: 'invalid-semver', file: 'firmware-manifests/ble-1.1.yaml', line: 7, column: 12 });
    expectIssue(issues, { code: 'invalid-sha256', file: 'firmware-manifests/ble-1.1.yaml', line: 10, column: 13 });
  });

  it('rejects a semver range that does not parse, in requires and in a rollout target', async () => {
    const beacon = `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata: { name: beacon }
spec: { hardware: beacon, components: [mcu, ble], strategy: constraints }
---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: beacon-mcu-1.0.0 }
spec:
  hardware: beacon
  component: mcu
  version: 1.0.0
  artifact: { url: "https://fw.example/b.bin", sha256: "${'d'.repeat(64)}", size: 1000 }
  requires:
    ble: ">=banana"
`;
    const rollout = `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector: { profiles: [locator] }
  target:
    components: { mcu: "latest" }
  waves: [{ name: all, percent: 100 }]
  activeWave: all
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/beacon.yaml': beacon, 'firmware-manifests/rollout.yaml': rollout }));
    expectIssue(issues, { code: 'invalid-range', file: 'firmware-manifests/beacon.yaml', line: 15, path: '/spec/requires/ble' });
    expectIssue(issues, { code: 'invalid-range', file: 'firmware-manifests/rollout.yaml', line: 7, path: '/spec/target/components/mcu' });
  });

  it('rejects a timezone that looks right but is not in the IANA database', async () => {
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: acme\n  timezone: Mars/Olympus_Mons\n') }));
    expectIssue(issues, { code: 'invalid-timezone', file: 'fleet-config/sites/lot-c.yaml', line: 7, column: 13 });
  });
});

describe('references between resources', () => {
  it('reports each dangling reference at the field that names it', async () => {
    const group = `apiVersion: fleetform/v1
kind: DeviceGroup
metadata:
  name: demo-cars
spec:
  profiles: [locator, tracker-x]
  sites: [lot-z]
  priority: 10
`;
    const rollout = `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector:
    profiles: [locatr]
    sites: [lot-a, lot-q]
    groups: [nobody]
  target: { bundle: app-1.1.0 }
  waves: [{ name: canary, percent: 5 }]
  activeWave: wider
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`;
    const { issues } = await compile(
      fleetWith({
        'fleet-config/groups/groups.yaml': group,
        'firmware-manifests/rollout.yaml': rollout,
        'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: globex\n  timezone: UTC\n'),
      }),
    );
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/groups/groups.yaml', line: 6, column: 23, path: '/spec/profiles/1' });
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/groups/groups.yaml', line: 7, path: '/spec/sites/0' });
    expectIssue(issues, { code: 'dangling-reference', file: 'firmware-manifests/rollout.yaml', line: 6, path: '/spec/selector/profiles/0' });
    expectIssue(issues, { code: 'dangling-reference', file: 'firmware-manifests/rollout.yaml', line: 7, path: '/spec/selector/sites/1' });
    expectIssue(issues, { code: 'dangling-reference', file: 'firmware-manifests/rollout.yaml', line: 8, path: '/spec/selector/groups/0' });
    expectIssue(issues, { code: 'dangling-reference', file: 'firmware-manifests/rollout.yaml', line: 11, path: '/spec/activeWave' });
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/sites/lot-c.yaml', line: 6, path: '/spec/tenant' });
    expect(issues.filter((i) => i.code === 'dangling-reference')).toHaveLength(7);
  });

  it('reports a profile naming a matrix that does not exist, and a hardware with no matrix', async () => {
    const profiles = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata: { name: locator }
spec:
  hardware: tracker
  components: [mcu, ble]
  role: locator
  checkIn: { intervalSeconds: 1800 }
  matrix: trackr
---
apiVersion: fleetform/v1
kind: DeviceProfile
metadata: { name: gateway }
spec:
  hardware: gateway
  components: [mcu]
  role: gateway
  checkIn: { intervalSeconds: 600 }
`;
    const { issues } = await compile(fleetWith({ 'fleet-config/profiles/locator.yaml': profiles }));
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/profiles/locator.yaml', line: 9, path: '/spec/matrix' });
    expectIssue(issues, { code: 'dangling-reference', file: 'fleet-config/profiles/locator.yaml', line: 15, path: '/spec/hardware' });
  });

  it('reports a release of a hardware without a matrix, or of a component the matrix does not declare', async () => {
    const releases = `apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-gps-1.0.0 }
spec:
  hardware: tracker
  component: gps
  version: 1.0.0
  artifact: { url: "https://fw.example/gps.bin", sha256: "${'e'.repeat(64)}", size: 1000 }
---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: camera-mcu-1.0.0 }
spec:
  hardware: camera
  component: mcu
  version: 1.0.0
  artifact: { url: "https://fw.example/cam.bin", sha256: "${'f'.repeat(64)}", size: 1000 }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/more.yaml': releases }));
    expectIssue(issues, { code: 'unknown-component', file: 'firmware-manifests/more.yaml', line: 6, path: '/spec/component' });
    expectIssue(issues, { code: 'dangling-reference', file: 'firmware-manifests/more.yaml', line: 14, path: '/spec/hardware' });
  });

  it('reports a bundle naming a release that does not exist, and a bundle missing a component', async () => {
    const matrix = `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata: { name: tracker }
spec:
  hardware: tracker
  components: [mcu, ble]
  strategy: bundles
  bundles:
    - { name: app-1.0.0, version: 1.0.0, components: { mcu: 1.0.0, ble: 1.0.0 } }
    - { name: app-1.1.0, version: 1.1.0, components: { mcu: 1.1.0, ble: 1.0.0 } }
    - { name: app-2.0.0, version: 2.0.0, components: { mcu: 9.9.9, ble: 1.0.0 } }
    - { name: app-2.1.0, version: 2.1.0, components: { mcu: 1.1.0 } }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/matrix.yaml': matrix }));
    expectIssue(issues, { code: 'unknown-release', file: 'firmware-manifests/matrix.yaml', line: 11, path: '/spec/bundles/2/components/mcu' });
    expectIssue(issues, { code: 'component-mismatch', file: 'firmware-manifests/matrix.yaml', line: 12, path: '/spec/bundles/3/components' });
  });

  it('reports a rollout target naming a bundle or a release that does not exist', async () => {
    const rollouts = `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector: { profiles: [locator] }
  target: { bundle: app-9.0.0 }
  waves: [{ name: all, percent: 100 }]
  activeWave: all
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
---
apiVersion: fleetform/v1
kind: Rollout
metadata: { name: mcu-2 }
spec:
  selector: { profiles: [locator] }
  target: { components: { mcu: ">=2.0.0" } }
  waves: [{ name: all, percent: 100 }]
  activeWave: all
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/rollout.yaml': rollouts }));
    expectIssue(issues, { code: 'unknown-bundle', file: 'firmware-manifests/rollout.yaml', line: 6, path: '/spec/target/bundle' });
    expectIssue(issues, { code: 'unknown-release', file: 'firmware-manifests/rollout.yaml', line: 16, path: '/spec/target/components/mcu' });
  });

  it('does not call a reference dangling when its target exists but has a schema error (one mistake, one issue)', async () => {
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: acme\n  timezone: UTC\n  wfi: []\n') }));
    const group = `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: c-only }
spec: { sites: [lot-c], priority: 1 }
`;
    const withGroup = await compile(
      fleetWith({ 'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: acme\n  timezone: UTC\n  wfi: []\n'), 'fleet-config/groups/c.yaml': group }),
    );
    expect(codes(issues)).toEqual(['schema']);
    expect(codes(withGroup.issues)).toEqual(['schema']);
  });

  it('rejects waves that narrow', async () => {
    const rollout = `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector: { profiles: [locator] }
  target: { bundle: app-1.1.0 }
  waves:
    - { name: wide, percent: 50 }
    - { name: narrow, percent: 25 }
  activeWave: wide
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`;
    const { issues } = await compile(fleetWith({ 'firmware-manifests/rollout.yaml': rollout }));
    expectIssue(issues, { code: 'invalid-waves', file: 'firmware-manifests/rollout.yaml', line: 9, path: '/spec/waves/1/percent' });
  });

  it('checks profile defaults against the profile’s own configSchema', async () => {
    const { MINIMAL_FLEET } = await import('./fixtures.ts');
    const profile = (MINIMAL_FLEET['fleet-config/profiles/locator.yaml'] ?? '').replace('reportIntervalSeconds: 1800', 'reportIntervalSeconds: 10');
    const { issues } = await compile(fleetWith({ 'fleet-config/profiles/locator.yaml': profile }));
    expectIssue(issues, { code: 'config-schema-violation', file: 'fleet-config/profiles/locator.yaml', line: 19, path: '/spec/defaults/reportIntervalSeconds' });
  });
});

describe('plaintext secrets', () => {
  it('rejects a plaintext Wi-Fi password, once, at the password', async () => {
    const site = SITE_C(`  tenant: acme
  timezone: UTC
  wifi:
    - ssid: Lot-C
      security: wpa2-psk
      password: hunter2
`);
    const { issues, snapshot } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': site }));
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'plaintext-secret', file: 'fleet-config/sites/lot-c.yaml', line: 11, column: 17, path: '/spec/wifi/0/password' });
    expect(issues).toHaveLength(1); // no second, schema-shaped complaint about the same value
  });

  it('rejects plaintext in a config field the profile marks x-secret, in site and group config', async () => {
    const site = SITE_C(`  tenant: acme
  timezone: UTC
  config:
    cloud:
      apiKey: sk-live-123
`);
    const group = `apiVersion: fleetform/v1
kind: DeviceGroup
metadata: { name: demo-cars }
spec:
  priority: 10
  config: { cloud: { apiKey: "sk-test-9" } }
`;
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': site, 'fleet-config/groups/groups.yaml': group }));
    expectIssue(issues, { code: 'plaintext-secret', file: 'fleet-config/sites/lot-c.yaml', line: 10, path: '/spec/config/cloud/apiKey' });
    expectIssue(issues, { code: 'plaintext-secret', file: 'fleet-config/groups/groups.yaml', line: 6, path: '/spec/config/cloud/apiKey' });
  });

  it('rejects an "encrypted" value that is not age armor', async () => {
    const site = SITE_C(`  tenant: acme
  timezone: UTC
  wifi:
    - ssid: Lot-C
      password:
        encrypted: |
          -----BEGIN AGE ENCRYPTED FILE-----
          this is not base64 at all !!
          -----END AGE ENCRYPTED FILE-----
`);
    const { issues } = await compile(fleetWith({ 'fleet-config/sites/lot-c.yaml': site }));
    expectIssue(issues, { code: 'invalid-secret', file: 'fleet-config/sites/lot-c.yaml', line: 11, path: '/spec/wifi/0/password' });
  });
});

describe('every issue, not the first', () => {
  it('reports all problems of a revision together, sorted by file and line', async () => {
    const { issues, snapshot } = await compile(
      fleetWith({
        'fleet-config/sites/lot-c.yaml': SITE_C('  tenant: globex\n  timezone: UTC\n'),
        'fleet-config/sites/lot-d.yaml': SITE_C('  tenant: acme\n  timezone: UTC\n  wifi: [{ ssid: D, password: open-sesame }]\n').replace('lot-c', 'lot-d'),
        'rules/broken.yaml': 'apiVersion: fleetform/v1\nkind: AlertRule\nmetadata: { name: x\n',
      }),
    );
    expect(snapshot).toBeNull();
    expect(codes(issues)).toEqual(['dangling-reference', 'plaintext-secret', 'yaml-syntax']);
    expect(issues.map((i) => i.file)).toEqual(['fleet-config/sites/lot-c.yaml', 'fleet-config/sites/lot-d.yaml', 'rules/broken.yaml']);
  });
});
