// The engine as `fleetform serve` composes it (main.ts: the secret-source resolver, the identity), on a real
// PostgreSQL and a real git repository: the attacks of the security review (issue 14) and a group that breaks
// the profile's schema (issue 16) are rejected with their places, like validate rejects them, and the last
// good revision keeps serving; a declared source is read and reaches its device.
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretSources } from '../../engine/config/index.ts';
import { startServe, type RunningServe } from '../../engine/main.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { checkIn, checkInBody, eventually, registerDevice, request } from '../support/engine.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';

const ADMIN = 'ffo_engine-judges-admin-token';
const SITE = 'fleet-config/sites/plant-1.yaml';
const GROUP = 'fleet-config/groups/night.yaml';

const PROFILE = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata:
  name: tracker
spec:
  hardware: tr
  components: [mcu, ble]
  role: locator
  checkIn: { intervalSeconds: 600 }
  configSchema:
    type: object
    additionalProperties: false
    properties:
      reportIntervalSeconds: { type: integer, minimum: 60 }
      gps: { type: object, additionalProperties: false, properties: { mode: { enum: [always, on-movement, "off"] } } }
      movementLock: { type: boolean }
      wifi: { type: array, items: { type: object, properties: { ssid: { type: string }, password: { type: string, x-secret: true } } } }
  defaults:
    reportIntervalSeconds: 600
    gps: { mode: on-movement }
`;

/** Site plant-1 with one Wi-Fi network per password (line 12 + 3·i holds the i-th password). */
function plant(passwords: readonly string[]): string {
  return `apiVersion: fleetform/v1
kind: Site
metadata:
  name: plant-1
spec:
  tenant: acme
  timezone: UTC
  cellTowers:
    - { mcc: 310, mnc: 410, lac: 1, cid: 11, lat: 40.0, lon: -105.0, rangeM: 1500 }
  wifi:
${passwords.map((password, i) => `    - ssid: net-${i}\n      password: ${password}\n`).join('')}`;
}

let db: TestDatabase;
let repo: FleetRepo;
let dataDir: string;
let secretDir: string;
let serve: RunningServe;
let url: string;

async function revision(sha: string): Promise<{ status: string; issues: { code: string; file: string; line: number; column: number; message: string }[] }> {
  return eventually(async () => {
    const result = await request<{ status: string; issues: { code: string; file: string; line: number; column: number; message: string }[] }>(`${url}/v1/revisions/${sha}`, { token: ADMIN });
    return result.status === 200 ? result.body : null;
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'fleetform-judges-'));
  secretDir = await realpath(await mkdtemp(join(tmpdir(), 'fleetform-judges-secrets-')));
  await mkdir(join(secretDir, 'wifi'));
  await writeFile(join(secretDir, 'wifi', 'plant-1'), 'from-the-secret-dir\n');
  repo = await createFleetRepo({
    ...fixtureFleet(),
    'fleet-config/profiles/tracker.yaml': PROFILE,
    [SITE]: plant(['{ secretRef: { env: FLEETFORM_SECRET_PLANT_1 } }']),
  });
  serve = await startServe({
    repoDir: repo.dir,
    branch: 'main',
    port: 0,
    host: '127.0.0.1',
    dataDir,
    secretSources: parseSecretSources({ dir: secretDir }),
    env: { DATABASE_URL: db.url, FLEETFORM_ADMIN_TOKEN: ADMIN, FLEETFORM_SECRET_PLANT_1: 'from-the-environment', FLEETFORM_LOG_LEVEL: 'silent', FLEETFORM_MIN_CHECKIN_INTERVAL_MS: '0' },
    cwd: process.cwd(),
    announce: () => undefined,
  });
  url = `http://127.0.0.1:${serve.port}`;
  await eventually(() => serve.engine.revisions.current?.sha === repo.head());
}, 60_000);

afterAll(async () => {
  await serve?.stop();
  await db?.drop();
  await repo?.remove();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  if (secretDir) await rm(secretDir, { recursive: true, force: true });
});

describe('the engine judges a merge like validate', () => {
  it('rejects reading engine-host files and variables, an unknown YAML tag and a group that breaks the schema — each at its place', async () => {
    const good = repo.head();
    const sha = await repo.commit(
      {
        [SITE]: plant([
          '{ secretRef: { file: /proc/self/environ } }',
          '{ secretRef: { file: ../../../../etc/shadow } }',
          '{ secretRef: { env: FLEETFORM_ADMIN_TOKEN } }',
          '{ secretRef: { file: demo/age-identity.txt } }',
        ]),
        'fleet-config/sites/depot-9.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: depot-9
spec:
  tenant: globex
  timezone: UTC
  config: { note: !!binary aGVsbG8= }
`,
        [GROUP]: `apiVersion: fleetform/v1
kind: DeviceGroup
metadata:
  name: night
spec:
  selector: { matchLabels: { shift: night } }
  priority: 10
  config:
    reportIntervalSeconds: 1
    gps: { mode: turbo }
    movementLock: "yes"
`,
      },
      'Read the host, tag a binary, break the schema',
    );
    const rejected = await revision(sha);
    expect(rejected.status).toBe('rejected');
    const at = (code: string, file: string, line: number): void => {
      expect(rejected.issues, `${code} at ${file}:${line}`).toContainEqual(expect.objectContaining({ code, file, line }));
    };
    at('secret-source-not-allowed', SITE, 12);
    at('secret-source-not-allowed', SITE, 14);
    at('secret-source-not-allowed', SITE, 16);
    at('secret-unresolved', SITE, 18); // a path under the secret directory, which has no demo/: never the repository's file
    at('unknown-yaml-tag', 'fleet-config/sites/depot-9.yaml', 8);
    at('config-schema-violation', GROUP, 9);
    at('config-schema-violation', GROUP, 10);
    at('config-schema-violation', GROUP, 11);
    expect(JSON.stringify(rejected)).not.toContain(ADMIN);
    expect(serve.engine.revisions.current?.sha).toBe(good);
  });

  it('reads a declared source and gives the device its value', async () => {
    const sha = await repo.commit(
      { [SITE]: plant(['{ secretRef: { env: FLEETFORM_SECRET_PLANT_1 } }', '{ secretRef: { file: wifi/plant-1 } }']), 'fleet-config/sites/depot-9.yaml': fixtureFleet()['fleet-config/sites/depot-9.yaml'] ?? '', [GROUP]: null },
      'Wi-Fi from the environment and the secret directory',
    );
    expect((await revision(sha)).status).toBe('applied');
    await eventually(() => serve.engine.revisions.current?.sha === sha);
    const token = await registerDevice(url, { id: 'trk-1' }, ADMIN);
    const answer = await checkIn(url, 'trk-1', token, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }));
    expect(answer.status).toBe(200);
    const wifi = (answer.body.config as { wifi: { ssid: string; password: string }[] }).wifi;
    expect(wifi.map((network) => network.password)).toEqual(['from-the-environment', 'from-the-secret-dir']);
  });
});
