// Config repositories for engine tests: a small fleet written here (so the tests control every
// number in it), committed with the `git` command line to a temp repository.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type FleetFiles = Record<string, string>;

const sha = (c: string): string => c.repeat(64);

function release(component: string, version: string, digit: string): string {
  return `---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata:
  name: tr-${component}-${version}
spec:
  hardware: tr
  component: ${component}
  version: ${version}
  artifact:
    url: https://fw.example/tr/${component}/${version}.bin
    sha256: ${sha(digit)}
    size: ${1000 + Number(version.replace(/\./g, ''))}
`;
}

export interface RolloutOptions {
  target?: string;
  maxInFlightPerCell?: number;
  maxInFlight?: number;
  maxRetries?: number;
}

export function rolloutYaml(options: RolloutOptions = {}): string {
  return `apiVersion: fleetform/v1
kind: Rollout
metadata:
  name: tr-upgrade
spec:
  selector:
    profiles: [tracker]
  target:
    bundle: ${options.target ?? 'app-3'}
  waves:
    - { name: all, percent: 100 }
  activeWave: all
  throttle:
    maxInFlight: ${options.maxInFlight ?? 1000}
    maxInFlightPerCell: ${options.maxInFlightPerCell ?? 100}
    stepTimeoutSeconds: 3600
  failurePolicy:
    maxRetries: ${options.maxRetries ?? 3}
    retryDelaySeconds: 60
    coolDownSeconds: 3600
    maxCycles: 2
`;
}

/**
 * Hardware `tr` with components mcu and ble. Known-good bundles:
 *   app-1 = mcu 1.0.0 + ble 1.0.0, app-2 = mcu 1.1.0 + ble 1.0.0,
 *   app-3 = mcu 1.1.0 + ble 2.0.0, app-4 = mcu 1.2.0 + ble 2.0.0.
 * From app-1, app-3 is two steps (mcu, then ble); app-4 one more (mcu).
 */
export function fixtureFleet(rollout: RolloutOptions = {}): FleetFiles {
  return {
    'fleet-config/tenants/acme.yaml': `apiVersion: fleetform/v1
kind: Tenant
metadata:
  name: acme
spec:
  displayName: Acme
---
apiVersion: fleetform/v1
kind: Tenant
metadata:
  name: globex
spec:
  displayName: Globex
`,
    'fleet-config/profiles/tracker.yaml': `apiVersion: fleetform/v1
kind: DeviceProfile
metadata:
  name: tracker
spec:
  hardware: tr
  components: [mcu, ble]
  role: locator
  checkIn:
    intervalSeconds: 600
    jitterPercent: 10
    upgradingIntervalSeconds: 120
    offlineAfterMissed: 3
  defaults:
    reportIntervalSeconds: 600
    gps: { mode: on-movement }
`,
    'fleet-config/sites/plant-1.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: plant-1
spec:
  tenant: acme
  timezone: UTC
  cellTowers:
    - { mcc: 310, mnc: 410, lac: 1, cid: 11, lat: 40.0, lon: -105.0, rangeM: 1500 }
  config:
    reportIntervalSeconds: 900
`,
    'fleet-config/sites/depot-9.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: depot-9
spec:
  tenant: globex
  timezone: UTC
`,
    'firmware-manifests/tr-releases.yaml':
      release('mcu', '1.0.0', 'a') + release('mcu', '1.1.0', 'b') + release('mcu', '1.2.0', 'c') + release('ble', '1.0.0', 'd') + release('ble', '2.0.0', 'e'),
    'firmware-manifests/tr-matrix.yaml': `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata:
  name: tr
spec:
  hardware: tr
  components: [mcu, ble]
  strategy: bundles
  bundles:
    - { name: app-1, version: 1.0.0, components: { mcu: 1.0.0, ble: 1.0.0 } }
    - { name: app-2, version: 2.0.0, components: { mcu: 1.1.0, ble: 1.0.0 } }
    - { name: app-3, version: 3.0.0, components: { mcu: 1.1.0, ble: 2.0.0 } }
    - { name: app-4, version: 4.0.0, components: { mcu: 1.2.0, ble: 2.0.0 } }
`,
    'firmware-manifests/tr-rollout.yaml': rolloutYaml(rollout),
  };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Fleet Engineer',
      GIT_AUTHOR_EMAIL: 'fleet@example.com',
      GIT_COMMITTER_NAME: 'Fleet Engineer',
      GIT_COMMITTER_EMAIL: 'fleet@example.com',
    },
  }).trim();
}

export interface FleetRepo {
  dir: string;
  /** Writes the files (null deletes) and commits them on main with the git CLI; returns the sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  head(): string;
  remove(): Promise<void>;
}

export async function createFleetRepo(files: FleetFiles): Promise<FleetRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetform-repo-'));
  git(dir, 'init', '-q', '-b', 'main');
  const repo: FleetRepo = {
    dir,
    async commit(changes, message) {
      for (const [path, content] of Object.entries(changes)) {
        const file = join(dir, path);
        if (content === null) {
          await rm(file, { force: true });
        } else {
          await mkdir(dirname(file), { recursive: true });
          await writeFile(file, content);
        }
      }
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
    head: () => git(dir, 'rev-parse', 'HEAD'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  await repo.commit(files, 'Initial fleet');
  return repo;
}

/** A temp repository holding a copy of the project's example fleet (the config folders). */
export async function createExampleFleetRepo(projectDir: string): Promise<FleetRepo> {
  const repo = await createFleetRepo({});
  for (const folder of ['fleet-config', 'firmware-manifests', 'rules', 'schemas']) {
    await cp(join(projectDir, folder), join(repo.dir, folder), { recursive: true });
  }
  await repo.commit({}, 'Example fleet');
  return repo;
}
