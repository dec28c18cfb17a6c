import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GitFixture } from '../git/fixture.ts';
import { fleetform } from './cli.ts';
import { bundle, BUNDLES, devices, fleetFile, fleetRepository, matrix, rollout, site, sizeOf, TENANT, type Device } from './fleet-repo.ts';

const repos: GitFixture[] = [];
function repository(): GitFixture {
  const repo = fleetRepository();
  repos.push(repo);
  return repo;
}
afterEach(() => {
  for (const repo of repos.splice(0)) repo.dispose();
});

/** 30 locators at north on app-1.0.0, 20 at south on app-1.2.0, 10 at south on app-1.1.0, 5 at south still on app-0.9.0. */
function fleet(): Device[] {
  return [
    ...devices('north', 30, 'north', bundle('app-1.0.0')),
    ...devices('south', 20, 'south', bundle('app-1.2.0')),
    ...devices('mid', 10, 'south', bundle('app-1.1.0')),
    ...devices('old', 5, 'south', bundle('app-0.9.0')),
  ];
}

/** Retiring app-1.0.0: its devices are off the matrix (with a way back), app-0.9.0's are stranded. */
const RETIRED = matrix(BUNDLES.filter((b) => b.name !== 'app-1.0.0'));

function withFleet(repo: GitFixture, list: Device[] = fleet()): string {
  repo.write('fleet.jsonl', fleetFile(list));
  return join(repo.dir, 'fleet.jsonl');
}

interface Impact {
  devices: number;
  affected: number;
  config: { changed: number; bySite: { name: string; devices: number }[]; byProfile: { name: string; devices: number }[] };
  firmware: {
    planChanged: number;
    startsNow: number;
    paths: { rollout: string; from: string; via: string[]; to: string; steps: number; bytes: number; devices: number }[];
    newlyBlocked: { hardware: string; firmware: string; devices: number; examples: string[] }[];
    newlyOffMatrix: { hardware: string; firmware: string; devices: number; examples: string[] }[];
    waves: { rollout: string; wave: string; devices: number; open: boolean }[];
  };
}

async function impactOf(repo: GitFixture, fleetPath: string, ...extra: string[]): Promise<{ code: number; impact: Impact }> {
  const run = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', fleetPath, '--format', 'json', ...extra);
  expect(run.stderr).toBe('');
  return { code: run.code, impact: (JSON.parse(run.stdout) as { impact: Impact }).impact };
}

const bytes = (...steps: [string, string][]): number => steps.reduce((sum, [c, v]) => sum + sizeOf(c, v), 0);

describe('fleet impact of a change', () => {
  it('a rollout target change shows each firmware path with its step count, download and device count', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0' }));
    repo.commit('target app 2.0.0');
    const { code, impact } = await impactOf(repo, fleetPath);
    expect(code).toBe(0);
    expect(impact.devices).toBe(65);
    expect(impact.firmware.paths).toEqual([
      {
        rollout: 'tracker-rollout',
        hardware: 'tracker',
        from: 'app-1.0.0',
        via: ['app-1.1.0', 'app-1.2.0'],
        to: 'app-2.0.0',
        steps: 3,
        bytes: bytes(['mcu', '1.1.0'], ['ble', '1.1.0'], ['mcu', '2.0.0']),
        devices: 30,
      },
      { rollout: 'tracker-rollout', hardware: 'tracker', from: 'app-1.2.0', via: [], to: 'app-2.0.0', steps: 1, bytes: bytes(['mcu', '2.0.0']), devices: 20 },
      {
        rollout: 'tracker-rollout',
        hardware: 'tracker',
        from: 'app-1.1.0',
        via: ['app-1.2.0'],
        to: 'app-2.0.0',
        steps: 2,
        bytes: bytes(['ble', '1.1.0'], ['mcu', '2.0.0']),
        devices: 10,
      },
      {
        rollout: 'tracker-rollout',
        hardware: 'tracker',
        from: 'app-0.9.0',
        via: ['app-1.0.0', 'app-1.1.0', 'app-1.2.0'],
        to: 'app-2.0.0',
        steps: 4,
        bytes: bytes(['ble', '1.0.0'], ['mcu', '1.1.0'], ['ble', '1.1.0'], ['mcu', '2.0.0']),
        devices: 5,
      },
    ]);
    expect(impact.firmware.planChanged).toBe(65);
    expect(impact.config.changed).toBe(0);
    expect(impact.affected).toBe(65);
    // Every device with a new path falls in exactly one wave; only the active one (canary) is open.
    expect(impact.firmware.waves.reduce((sum, w) => sum + w.devices, 0)).toBe(65);
    for (const wave of impact.firmware.waves) {
      expect(['canary', 'wider', 'all']).toContain(wave.wave);
      expect(wave.open).toBe(wave.wave === 'canary');
    }
    expect(impact.firmware.newlyBlocked).toEqual([]);
  });

  it('widening the rollout to the next wave opens it for the devices that fall in it', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0', activeWave: 'canary' }));
    repo.commit('target app 2.0.0');
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0', activeWave: 'wider' }));
    repo.commit('widen');
    const { impact } = await impactOf(repo, fleetPath);
    // No path changes; the devices of the wider wave start upgrading, and only they are affected.
    expect(impact.firmware.paths.reduce((sum, p) => sum + p.devices, 0)).toBe(impact.affected);
    expect(impact.firmware.waves).toEqual([{ rollout: 'tracker-rollout', wave: 'wider', devices: impact.affected, open: true }]);
    expect(impact.affected).toBeGreaterThan(0);
    expect(impact.firmware.startsNow).toBe(impact.affected);
    expect(impact.config.changed).toBe(0);
  });

  it('a removed bundle that devices still run shows them as off-matrix', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    repo.write('firmware-manifests/matrix-tracker.yaml', RETIRED);
    repo.commit('retire app 1.0.0');
    const { code, impact } = await impactOf(repo, fleetPath);
    expect(code).toBe(0);
    expect(impact.firmware.newlyOffMatrix).toEqual([
      {
        hardware: 'tracker',
        firmware: 'mcu 1.0.0 · ble 1.0.0',
        rollout: 'tracker-rollout',
        devices: 30,
        examples: ['north-0000', 'north-0001', 'north-0002', 'north-0003', 'north-0004'],
      },
    ]);
    // They still have a way back onto the matrix, and on to the target.
    expect(impact.firmware.paths).toContainEqual(
      expect.objectContaining({ from: 'mcu 1.0.0 · ble 1.0.0', via: ['app-1.1.0'], to: 'app-1.2.0', steps: 2, devices: 30 }),
    );
  });

  it('a matrix change that leaves a reported state unreachable makes --fail-on blocked exit 3', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    // Without app-1.0.0, a device on app-0.9.0 has no single-component step onto a known-good combination.
    repo.write('firmware-manifests/matrix-tracker.yaml', RETIRED);
    repo.commit('retire app 1.0.0');
    const { code, impact } = await impactOf(repo, fleetPath, '--fail-on', 'blocked');
    expect(code).toBe(3);
    expect(impact.firmware.newlyBlocked).toEqual([
      { hardware: 'tracker', firmware: 'app-0.9.0', rollout: 'tracker-rollout', devices: 5, examples: ['old-0000', 'old-0001', 'old-0002', 'old-0003', 'old-0004'] },
    ]);
    const text = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', fleetPath, '--fail-on', 'blocked');
    expect(text.code).toBe(3);
    expect(text.stdout.split('\n')[1]).toMatch(/^Blast radius: 35 of 65 devices \(53\.8%\).*\d+ start upgrading now\), 5 newly blocked, 30 newly off-matrix/);
  });

  it('--fail-on blocked passes a change that blocks nobody; --fail-on any fails any change that touches a device', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI', '{ reportIntervalSeconds: 300 }'));
    repo.commit('north reports more often');
    const blocked = await impactOf(repo, fleetPath, '--fail-on', 'blocked');
    expect(blocked.code).toBe(0);
    expect(blocked.impact.config).toEqual({
      changed: 30,
      bySite: [{ name: 'north', devices: 30 }],
      byProfile: [{ name: 'locator', devices: 30 }],
      orphaned: 0,
    });
    expect((await impactOf(repo, fleetPath, '--fail-on', 'any')).code).toBe(3);

    repo.write('fleet-config/tenants/acme.yaml', TENANT.replace('Acme Dealers', 'Acme Dealer Group'));
    repo.commit('rename the tenant');
    const untouched = await impactOf(repo, fleetPath, '--fail-on', 'any');
    expect(untouched.impact.affected).toBe(0);
    expect(untouched.code).toBe(0);
  });

  it('renders the same markdown on every run, as checked in', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    repo.write('firmware-manifests/matrix-tracker.yaml', RETIRED);
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0', activeWave: 'wider', maxInFlightPerCell: 5 }));
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI_ROTATED', '{ reportIntervalSeconds: 300 }'));
    repo.commit('target app 2.0.0, retire app 1.0.0, rotate the north password');
    const first = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl', '--format', 'markdown');
    const second = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl', '--format', 'markdown');
    expect(second.stdout).toBe(first.stdout);
    // The reviewer sees which variable the engine will read instead; never a value.
    expect(first.stdout).toContain('`spec.wifi[north-lot].password`: secret source `env FLEETFORM_SECRET_NORTH_WIFI` → `env FLEETFORM_SECRET_NORTH_WIFI_ROTATED` (value not shown)');
    await expect(first.stdout).toMatchFileSnapshot('__snapshots__/impact.md');
    const text = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl');
    await expect(text.stdout).toMatchFileSnapshot('__snapshots__/impact.txt');
  });

  it('compares a device whose override holds a secret reference (unresolved, by reference) like the others of its site', async () => {
    const repo = repository();
    const special = { ...devices('vip', 1, 'north', bundle('app-1.2.0'))[0]!, configOverride: { apiKey: { secretRef: { env: 'VIP_KEY' } } } };
    const fleetPath = withFleet(repo, [...fleet(), special]);
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI', '{ reportIntervalSeconds: 300 }'));
    repo.commit('north reports more often');
    const { code, impact } = await impactOf(repo, fleetPath);
    expect(code).toBe(0);
    expect(impact.config.bySite).toEqual([{ name: 'north', devices: 31 }]);
  });

  it('rejects a malformed fleet file as a usage error naming the line', async () => {
    const repo = repository();
    repo.write('fleet.jsonl', '{"id":"a","profile":"locator","site":"north","firmware":{}}\n{"id":"b","site":"north"}\nnot json\n');
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0' }));
    repo.commit('target');
    const run = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/line 2: b: profile/);
    expect(run.stderr).toMatch(/line 3: not JSON/);
    expect(readFileSync(join(repo.dir, 'fleet.jsonl'), 'utf8')).toContain('not json');
  });
});
