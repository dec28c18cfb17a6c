// The pluggable carrier: a carrier file declares the HTTP mapping, rate limit and retryable
// statuses; the worked example (docs/examples/carrier-control-center.yaml) runs against a local
// server of that API's shape; credentials come from secret references, never the file; the
// rate limit is one bucket in PostgreSQL that several processes share.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarrierConfigError, parseCarrierConfig } from '../../engine/provisioning/index.ts';
import { CarrierSecretMissingError, HttpCarrier } from '../../engine/service/index.ts';
import { CarrierRateBuckets, FleetStore } from '../../engine/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startCarrierStub, type CarrierStub } from '../support/carrier.ts';
import { runProgram } from '../../engine/cli/index.ts';
import { createFleetRepo, fixtureFleet } from '../support/fleet.ts';

const EXAMPLE = resolve(import.meta.dirname, '../../docs/examples/carrier-control-center.yaml');
const API_KEY = 'cc-api-key-not-a-real-one';

function problems(file: string, text: string): string[] {
  try {
    parseCarrierConfig(file, text);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(CarrierConfigError);
    return (error as CarrierConfigError).issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path}: ${i.message}`);
  }
}

describe('a carrier file', () => {
  it('the worked example is valid', async () => {
    const config = parseCarrierConfig(EXAMPLE, await readFile(EXAMPLE, 'utf8'));
    expect(config).toMatchObject({
      name: 'control-center',
      auth: { type: 'basic', username: 'fleetform-provisioning', password: { secretRef: { env: 'FLEETFORM_SECRET_CARRIER_API_KEY' } } },
      rateLimit: { perSecond: 5, burst: 5 },
      request: { method: 'PUT', path: '/rws/api/v1/devices/{iccid}', batch: null },
      response: { activated: [200], rejected: [400, 404], retryable: [429, 500, 502, 503, 504], errorPath: '/errorMessage' },
    });
  });

  it('names every problem with file:line:col and its JSON path, and refuses a credential written in it', () => {
    const text = [
      'name: Bad Name',
      'baseUrl: https://user:pw@carrier.example',
      'auth:',
      '  type: bearer',
      '  token: sk-live-1234',
      'rateLimit: {perSecond: 0}',
      'request:',
      '  method: GET',
      '  path: /sims/{msisdn}',
      'response:',
      '  activated: [200]',
      '  rejected: [200]',
      'surprise: 1',
      '',
    ].join('\n');
    const found = problems('carrier.yaml', text);
    expect(found).toEqual(
      expect.arrayContaining([
        'carrier.yaml:1:7: /name: must be 1-63 lowercase letters, digits or -',
        'carrier.yaml:2:10: /baseUrl: must not hold credentials: use auth with a secretRef',
        expect.stringMatching(/^carrier\.yaml:5:10: \/auth\/token: credentials are not written in the carrier file/),
        'carrier.yaml:6:24: /rateLimit/perSecond: must be a number from 0.001 to 100000',
        'carrier.yaml:8:11: /request/method: must be POST, PUT or PATCH',
        expect.stringMatching(/^carrier\.yaml:9:9: \/request\/path: \{msisdn\} is not a placeholder here/),
        'carrier.yaml:11:3: /response: status 200 is in more than one list',
        expect.stringMatching(/^carrier\.yaml:13:11: \/surprise: unknown key/),
      ]),
    );
    expect(found.join('\n')).not.toContain('sk-live-1234');
    expect(found.join('\n')).not.toContain(':pw@');
  });

  it('a batch request must say where its items go and where each SIM’s outcome is', () => {
    const found = problems('c.json', JSON.stringify({ name: 'b', baseUrl: 'http://x', rateLimit: { perSecond: 1 }, request: { path: '/a', batch: { maxSize: 10, item: { id: '{deviceId}' } }, body: {} } }));
    expect(found).toEqual(expect.arrayContaining([expect.stringContaining('/request/body: a batch body must hold "{activations}"'), expect.stringContaining('/response/results: a batch request needs results')]));
  });
});

describe('the worked example against a local server of its shape', () => {
  let stub: CarrierStub;
  let carrier: HttpCarrier;
  const refused = new Set(['8900000000000000404']);

  beforeAll(async () => {
    stub = await startCarrierStub({
      shape: 'control-center',
      basicAuth: `fleetform-provisioning:${API_KEY}`,
      transientFailures: (iccid) => (iccid.endsWith('503') ? 1 : 0),
      rejects: (iccid) => refused.has(iccid),
      rateLimit: { perSecond: 1, burst: 3 },
    });
    const text = (await readFile(EXAMPLE, 'utf8')).replace('https://controlcenter.example.com', stub.url);
    carrier = await HttpCarrier.create(parseCarrierConfig('carrier.yaml', text), (ref) => ('env' in ref && ref.env === 'FLEETFORM_SECRET_CARRIER_API_KEY' ? API_KEY : undefined));
  });
  afterAll(async () => {
    await stub?.close();
  });

  it('activates, refuses for good with the carrier’s message, retries a busy carrier and a rate limit (with its Retry-After)', async () => {
    const results = await carrier.activate([
      { deviceId: 'D-1', iccid: '8900000000000000001', imei: null },
      { deviceId: 'D-2', iccid: '8900000000000000404', imei: null },
      { deviceId: 'D-3', iccid: '8900000000000000503', imei: null },
    ]);
    expect(results).toEqual([
      { deviceId: 'D-1', outcome: 'activated' },
      { deviceId: 'D-2', outcome: 'rejected', error: 'carrier refused (HTTP 404): ICCID 8900000000000000404 is not on this account' },
      { deviceId: 'D-3', outcome: 'retry', error: 'carrier answered HTTP 503: Service busy' },
    ]);
    // The carrier's own bucket (burst 3) is spent: the next call is told to wait.
    const throttled = await carrier.activate([{ deviceId: 'D-3', iccid: '8900000000000000503', imei: null }]);
    expect(throttled).toEqual([{ deviceId: 'D-3', outcome: 'retry', error: 'carrier answered HTTP 429: Rate limit exceeded', retryAfterMs: 1000 }]);
    expect(stub.activations.get('8900000000000000001')).toBe(1);
    expect(stub.unauthorized).toBe(0);
  });

  it('takes its credentials from the secret sources at start, and a missing one stops the start naming the reference only', async () => {
    const text = (await readFile(EXAMPLE, 'utf8')).replace('https://controlcenter.example.com', stub.url);
    const start = HttpCarrier.create(parseCarrierConfig('carrier.yaml', text), () => undefined);
    await expect(start).rejects.toBeInstanceOf(CarrierSecretMissingError);
    await expect(start).rejects.toThrow('secret env FLEETFORM_SECRET_CARRIER_API_KEY is not available');
  });

  it('a wrong key is retried (an operator fixes it), and the error never holds the key', async () => {
    const text = (await readFile(EXAMPLE, 'utf8')).replace('https://controlcenter.example.com', stub.url);
    const wrong = await HttpCarrier.create(parseCarrierConfig('carrier.yaml', text), () => 'not-the-key');
    const [result] = await wrong.activate([{ deviceId: 'D-9', iccid: '8900000000000000009', imei: null }]);
    expect(result).toMatchObject({ outcome: 'retry', error: 'carrier answered HTTP 401 (not declared): Invalid username or API key' });
    expect(JSON.stringify(result)).not.toContain('not-the-key');
    expect(stub.unauthorized).toBe(1);
  });
});

describe('fleetform serve --carrier', () => {
  it('refuses to start on a bad carrier file or a missing secret, in one line naming the place, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetform-carrier-serve-'));
    const db = await createTestDatabase();
    const repo = await createFleetRepo(fixtureFleet());
    try {
      await writeFile(join(dir, 'bad.yaml'), 'name: control-center\nbaseUrl: https://carrier.example\nrateLimit: {perSecond: -1}\nrequest: {path: /a}\n');
      await writeFile(join(dir, 'good.yaml'), await readFile(EXAMPLE, 'utf8'));
      const serve = async (file: string) => {
        let stderr = '';
        const code = await runProgram(['node', 'fleetform', 'serve', '--repo', repo.dir, '--port', '0', '--carrier', file], {
          stdout: () => undefined,
          stderr: (text) => void (stderr += text),
          env: { DATABASE_URL: db.url, FLEETFORM_HOST: '127.0.0.1', FLEETFORM_LOG_LEVEL: 'silent' },
          cwd: dir,
          exit: () => undefined,
        });
        return { code, stderr };
      };
      const bad = await serve('bad.yaml');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^error: .*bad\.yaml:3:24: \/rateLimit\/perSecond: must be a number from 0\.001 to 100000\n$/);
      const secretless = await serve('good.yaml');
      expect(secretless.code).toBe(1);
      expect(secretless.stderr).toBe('error: carrier control-center: secret env FLEETFORM_SECRET_CARRIER_API_KEY is not available from the engine\'s secret sources\n');
      // The carrier file cannot name a variable outside the declared secret sources: not the admin token.
      await writeFile(join(dir, 'greedy.yaml'), (await readFile(EXAMPLE, 'utf8')).replace('FLEETFORM_SECRET_CARRIER_API_KEY', 'FLEETFORM_ADMIN_TOKEN'));
      const greedy = await serve('greedy.yaml');
      expect(greedy.code).toBe(1);
      expect(greedy.stderr).toMatch(/^error: carrier control-center: secret env FLEETFORM_ADMIN_TOKEN is refused: .*engine's own settings/);
      const missing = await serve('nowhere.yaml');
      expect(missing.stderr).toMatch(/^error: cannot read the carrier file .*nowhere\.yaml: no such file\n$/);
    } finally {
      await repo.remove();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the shared rate limit', () => {
  let db: TestDatabase;
  const stores: FleetStore[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    // Two stores with their own connection pools: as two engine processes.
    stores.push(await FleetStore.open({ url: db.url, poolSize: 2 }));
    stores.push(await FleetStore.open({ url: db.url, poolSize: 2 }));
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await db?.drop();
  });

  it('grants two takers together no more than burst + rate × time, on the database clock', async () => {
    const limit = { perSecond: 50, burst: 10 };
    const buckets = stores.map((s) => new CarrierRateBuckets(s));
    const clock = async () => Number((await stores[0]!.orm.em.getConnection().getKnex().raw('select extract(epoch from clock_timestamp()) * 1000 as ms')).rows[0].ms);
    const started = await clock();
    let granted = 0;
    await Promise.all(
      buckets.map(async (bucket) => {
        while (granted < 60) {
          const take = await bucket.take('shared-test', limit, 3);
          granted += take.granted;
          if (take.granted === 0) await new Promise((r) => setTimeout(r, take.waitMs));
        }
      }),
    );
    const elapsedSeconds = ((await clock()) - started) / 1000;
    // Each taker alone would be held to the same bound: together they are not granted twice as much.
    expect(granted).toBeLessThanOrEqual(limit.burst + Math.ceil(limit.perSecond * elapsedSeconds) + 3);
    expect(granted).toBeGreaterThanOrEqual(60);
  });

  it('a carrier’s Retry-After holds every taker off', async () => {
    const bucket = new CarrierRateBuckets(stores[0]!);
    const other = new CarrierRateBuckets(stores[1]!);
    const limit = { perSecond: 100, burst: 5 };
    expect((await bucket.take('hold-test', limit, 1)).granted + (await bucket.take('hold-test', limit, 1)).granted).toBeGreaterThan(0);
    await bucket.holdOff('hold-test', limit, 30);
    const held = await other.take('hold-test', limit, 1);
    expect(held.granted).toBe(0);
    expect(held.waitMs).toBeGreaterThan(20_000);
  });
});
