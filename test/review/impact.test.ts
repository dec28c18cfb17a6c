import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GitFixture } from '../git/fixture.ts';
import { fleetform } from './cli.ts';
import { BUNDLES, devices, fleetFile, fleetRepository, matrix, rollout, site, sizeOf, TENANT, type Device } from './fleet-repo.ts';

const repos: GitFixture[] = [];
function repository(): GitFixture {
  const repo = fleetRepository();
  repos.push(repo);
  return repo;
}
afterEach(() => {
  for (const repo of repos.splice(0)) repo.dispose();
});

const [APP_100, APP_110, APP_120, APP_200] = BUNDLES as [typeof BUNDLES[0], typeof BUNDLES[0], typeof BUNDLES[0], typeof BUNDLES[0]];

/** 30 locators at north on app-1.0.0, 20 at south on app-1.2.0, 10 at south on app-1.1.0. */
function fleet(): Device[] {
  return [...devices('north', 30, 'north', APP_100), ...devices('south', 20, 'south', APP_120), ...devices('mid', 10, 'south', APP_110)];
}

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
    expect(impact.devices).toBe(60);
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
    ]);
    expect(impact.firmware.planChanged).toBe(60);
    expect(impact.config.changed).toBe(0);
    expect(impact.affected).toBe(60);
    // Every device with a new path falls in exactly one wave; only the active one (canary) is open.
    expect(impact.firmware.waves.reduce((sum, w) => sum + w.devices, 0)).toBe(60);
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
    repo.write('firmware-manifests/matrix-tracker.yaml', matrix(BUNDLES.filter((b) => b !== APP_110)));
    repo.commit('retire app 1.1.0');
    const { impact } = await impactOf(repo, fleetPath);
    expect(impact.firmware.newlyOffMatrix).toEqual([
      {
        hardware: 'tracker',
        firmware: 'mcu 1.1.0 · ble 1.0.0',
        rollout: 'tracker-rollout',
        devices: 10,
        examples: ['mid-0000', 'mid-0001', 'mid-0002', 'mid-0003', 'mid-0004'],
      },
    ]);
    // They still have a way back: one step onto app-1.2.0.
    expect(impact.firmware.paths).toContainEqual(
      expect.objectContaining({ from: 'mcu 1.1.0 · ble 1.0.0', via: [], to: 'app-1.2.0', steps: 1, devices: 10 }),
    );
  });

  it('a matrix change that leaves a reported state unreachable makes --fail-on blocked exit 3', async () => {
    const repo = repository();
    const fleetPath = withFleet(repo);
    // Without app-1.1.0, a device on app-1.0.0 has no single-component step onto a known-good combination.
    repo.write('firmware-manifests/matrix-tracker.yaml', matrix(BUNDLES.filter((b) => b !== APP_110)));
    repo.commit('retire app 1.1.0');
    const { code, impact } = await impactOf(repo, fleetPath, '--fail-on', 'blocked');
    expect(code).toBe(3);
    expect(impact.firmware.newlyBlocked).toEqual([
      expect.objectContaining({ hardware: 'tracker', firmware: 'app-1.0.0', devices: 30 }),
    ]);
    const text = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', fleetPath, '--fail-on', 'blocked');
    expect(text.code).toBe(3);
    expect(text.stdout.split('\n')[1]).toMatch(/^Blast radius: 40 of 60 devices \(66\.7%\).*\d+ start upgrading now\), 30 newly blocked, 10 newly off-matrix/);
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
    repo.write('firmware-manifests/matrix-tracker.yaml', matrix(BUNDLES.filter((b) => b !== APP_110)));
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.0.0', activeWave: 'wider', maxInFlightPerCell: 5 }));
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI_ROTATED', '{ reportIntervalSeconds: 300 }'));
    repo.commit('target app 2.0.0, retire app 1.1.0, rotate the north password');
    const first = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl', '--format', 'markdown');
    const second = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl', '--format', 'markdown');
    expect(second.stdout).toBe(first.stdout);
    expect(first.stdout).not.toContain('NORTH_WIFI');
    await expect(first.stdout).toMatchFileSnapshot('__snapshots__/impact.md');
    const text = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl');
    await expect(text.stdout).toMatchFileSnapshot('__snapshots__/impact.txt');
  });

  it('compares a device override holding a secret without revealing it', async () => {
    const repo = repository();
    const special = { ...devices('vip', 1, 'north', APP_120)[0]!, configOverride: { apiKey: { secretRef: { env: 'VIP_KEY' } } } };
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
