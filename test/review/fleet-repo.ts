// A small tracker fleet as a real git repository: tests commit changes to it and review them.
import { GitFixture } from '../git/fixture.ts';

export interface Bundle {
  name: string;
  version: string;
  mcu: string;
  ble: string;
}

export const RELEASES: Record<'mcu' | 'ble', string[]> = {
  mcu: ['1.0.0', '1.1.0', '2.0.0'],
  ble: ['0.9.0', '1.0.0', '1.1.0'],
};

export const BUNDLES: Bundle[] = [
  { name: 'app-0.9.0', version: '0.9.0', mcu: '1.0.0', ble: '0.9.0' },
  { name: 'app-1.0.0', version: '1.0.0', mcu: '1.0.0', ble: '1.0.0' },
  { name: 'app-1.1.0', version: '1.1.0', mcu: '1.1.0', ble: '1.0.0' },
  { name: 'app-1.2.0', version: '1.2.0', mcu: '1.1.0', ble: '1.1.0' },
  { name: 'app-2.0.0', version: '2.0.0', mcu: '2.0.0', ble: '1.1.0' },
];

export function bundle(name: string): Bundle {
  const found = BUNDLES.find((b) => b.name === name);
  if (!found) throw new Error(`no bundle ${name} in the fixture`);
  return found;
}

export function sha(component: string, version: string): string {
  const seed = `${component}${version}`.replace(/[^0-9a-f]/g, 'a');
  return (seed + '0'.repeat(64)).slice(0, 64);
}

export function sizeOf(component: string, version: string): number {
  return (component === 'mcu' ? 400_000 : 100_000) + Number(version.replace(/\./g, '')) * 10;
}

export function release(component: string, version: string, extra = ''): string {
  return `---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata:
  name: tracker-${component}-${version}
spec:
  hardware: tracker
  component: ${component}
  version: ${version}
  artifact:
    url: https://firmware.example/tracker/${component}/${version}.bin
    sha256: ${sha(component, version)}
    size: ${sizeOf(component, version)}
${extra}`;
}

export function matrix(bundles: readonly Bundle[]): string {
  return `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata:
  name: tracker
spec:
  hardware: tracker
  components: [mcu, ble]
  strategy: bundles
  bundles:
${bundles.map((b) => `    - { name: ${b.name}, version: ${b.version}, components: { mcu: ${b.mcu}, ble: ${b.ble} } }`).join('\n')}
`;
}

export function rollout(options: { target: string; activeWave?: string; maxInFlightPerCell?: number } = { target: 'app-1.2.0' }): string {
  return `apiVersion: fleetform/v1
kind: Rollout
metadata:
  name: tracker-rollout
spec:
  selector:
    profiles: [locator]
  target:
    bundle: ${options.target}
  waves:
    - { name: canary, percent: 10 }
    - { name: wider, percent: 50 }
    - { name: all, percent: 100 }
  activeWave: ${options.activeWave ?? 'canary'}
  throttle:
    maxInFlight: 100
    maxInFlightPerCell: ${options.maxInFlightPerCell ?? 10}
  failurePolicy:
    maxRetries: 10
    retryDelaySeconds: 600
    coolDownSeconds: 86400
    maxCycles: 3
`;
}

export function site(name: string, password: string, config = '{ reportIntervalSeconds: 900 }'): string {
  return `apiVersion: fleetform/v1
kind: Site
metadata:
  name: ${name}
spec:
  tenant: acme
  timezone: Europe/Berlin
  wifi:
    - ssid: ${name}-lot
      security: wpa2-psk
      password: { secretRef: { env: FLEETFORM_SECRET_${password} } }
  config: ${config}
`;
}

export const TENANT = `apiVersion: fleetform/v1
kind: Tenant
metadata:
  name: acme
spec:
  displayName: Acme Dealers
`;

export const PROFILE = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata:
  name: locator
spec:
  hardware: tracker
  components: [mcu, ble]
  role: locator
  checkIn:
    intervalSeconds: 1800
  defaults:
    reportIntervalSeconds: 1800
`;

/** The fleet at its first commit: two sites, the full firmware history, a rollout to app-1.2.0. */
export function fleetRepository(): GitFixture {
  const repo = new GitFixture('fleetform-review-');
  repo
    .write('fleet-config/tenants/acme.yaml', TENANT)
    .write('fleet-config/profiles/locator.yaml', PROFILE)
    .write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI'))
    .write('fleet-config/sites/south.yaml', site('south', 'SOUTH_WIFI'))
    .write('firmware-manifests/tracker-mcu.yaml', RELEASES.mcu.map((v) => release('mcu', v)).join(''))
    .write('firmware-manifests/tracker-ble.yaml', RELEASES.ble.map((v) => release('ble', v)).join(''))
    .write('firmware-manifests/matrix-tracker.yaml', matrix(BUNDLES))
    .write('firmware-manifests/rollout.yaml', rollout({ target: 'app-1.2.0' }));
  repo.commit('fleet');
  return repo;
}

export interface Device {
  id: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  firmware: Record<string, string>;
}

/** `count` locators at `site` running `bundle`. */
export function devices(prefix: string, count: number, site: string, bundle: Bundle): Device[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, '0')}`,
    profile: 'locator',
    site,
    labels: {},
    firmware: { mcu: bundle.mcu, ble: bundle.ble },
  }));
}

export function fleetFile(list: readonly Device[]): string {
  return list.map((device) => JSON.stringify(device)).join('\n') + '\n';
}
