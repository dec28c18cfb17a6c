// Config trees for the tests: the example fleet as committed, and a small valid fleet to break one file at a time.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RESOURCE_FOLDERS, type SourceFile, type SourceTree } from '../../engine/model/index.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const DEMO_IDENTITY = readFileSync(join(REPO_ROOT, 'demo', 'age-identity.txt'), 'utf8');
export const DEMO_RECIPIENT = readFileSync(join(REPO_ROOT, 'demo', 'age-recipient.txt'), 'utf8').trim();

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
}

/** The example fleet committed at the repository root, as a working-tree SourceTree. */
export function exampleFleetTree(): SourceTree {
  const paths: string[] = [];
  for (const folder of RESOURCE_FOLDERS) {
    try {
      walk(join(REPO_ROOT, folder), paths);
    } catch {
      // folder absent
    }
  }
  return {
    revision: 'worktree',
    files: paths.sort().map((path) => ({ path: relative(REPO_ROOT, path), type: 'file', content: new Uint8Array(readFileSync(path)) })),
  };
}

export function treeOf(files: Readonly<Record<string, string | Uint8Array>>, extra: SourceFile[] = []): SourceTree {
  return {
    revision: 'test',
    files: [
      ...Object.entries(files).map(([path, content]): SourceFile => ({
        path,
        type: 'file',
        content: typeof content === 'string' ? new TextEncoder().encode(content) : content,
      })),
      ...extra,
    ],
  };
}

/** A small fleet that compiles clean; tests replace or add one file to break it in one way. */
export const MINIMAL_FLEET: Readonly<Record<string, string>> = {
  'fleet-config/tenants/acme.yaml': `apiVersion: fleetform/v1
kind: Tenant
metadata:
  name: acme
spec:
  displayName: Acme Motors
`,
  'fleet-config/profiles/locator.yaml': `apiVersion: fleetform/v1
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
      reportIntervalSeconds: { type: integer, minimum: 60 }
      gps: { type: object, properties: { mode: { enum: [always, on-movement, "off"] } } }
      movementLock: { type: boolean }
      cloud: { type: object, properties: { apiKey: { type: string, x-secret: true } } }
      wifi: { type: array }
  defaults:
    reportIntervalSeconds: 1800
    gps: { mode: on-movement, fixTimeoutSeconds: 90 }
    movementLock: false
    tags: [default]
`,
  'fleet-config/sites/lot-a.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: lot-a
spec:
  tenant: acme
  timezone: America/Denver
  config:
    reportIntervalSeconds: 900
`,
  'fleet-config/sites/lot-b.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: lot-b
spec:
  tenant: acme
  timezone: America/Chicago
`,
  'fleet-config/groups/groups.yaml': `apiVersion: fleetform/v1
kind: DeviceGroup
metadata:
  name: demo-cars
spec:
  selector: { matchLabels: { usage: demo } }
  priority: 10
  config:
    movementLock: false
`,
  'firmware-manifests/releases.yaml': `apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-mcu-1.0.0 }
spec:
  hardware: tracker
  component: mcu
  version: 1.0.0
  artifact: { url: "https://fw.example/mcu-1.0.0.bin", sha256: "${'a'.repeat(64)}", size: 500000 }
---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-mcu-1.1.0 }
spec:
  hardware: tracker
  component: mcu
  version: 1.1.0
  artifact: { url: "https://fw.example/mcu-1.1.0.bin", sha256: "${'b'.repeat(64)}", size: 510000 }
---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-ble-1.0.0 }
spec:
  hardware: tracker
  component: ble
  version: 1.0.0
  artifact: { url: "https://fw.example/ble-1.0.0.bin", sha256: "${'c'.repeat(64)}", size: 200000 }
`,
  'firmware-manifests/matrix.yaml': `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata: { name: tracker }
spec:
  hardware: tracker
  components: [mcu, ble]
  strategy: bundles
  bundles:
    - { name: app-1.0.0, version: 1.0.0, components: { mcu: 1.0.0, ble: 1.0.0 } }
    - { name: app-1.1.0, version: 1.1.0, components: { mcu: 1.1.0, ble: 1.0.0 } }
`,
  'firmware-manifests/rollout.yaml': `apiVersion: fleetform/v1
kind: Rollout
metadata: { name: app-1.1.0 }
spec:
  selector: { profiles: [locator] }
  target: { bundle: app-1.1.0 }
  waves:
    - { name: canary, percent: 5 }
    - { name: all, percent: 100 }
  activeWave: canary
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 600, coolDownSeconds: 86400, maxCycles: 3 }
`,
  'rules/battery.yaml': `apiVersion: fleetform/v1
kind: AlertRule
metadata: { name: low-battery }
spec:
  scope: device
  severity: warning
  conditions: { all: [{ fact: battery, operator: lessThan, value: 15 }] }
`,
};

/** The minimal fleet with some files replaced or added. */
export function fleetWith(files: Readonly<Record<string, string | Uint8Array>>, extra: SourceFile[] = []): SourceTree {
  return treeOf({ ...MINIMAL_FLEET, ...files }, extra);
}
