// The provisioning core on its own: log parsing that isolates bad lines, validation against the
// fleet's profiles, releases and sites, the task graph, backoff, rate limit and sealed credentials.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PROVISIONING_TASKS,
  TokenBucket,
  assertCredentialsRecipients,
  backoffDelayMs,
  failedAttempt,
  generateCredentialsIdentity,
  initialTaskStates,
  jobFigures,
  openCredentials,
  parseManufacturingLog,
  parseShipmentLog,
  resetFailed,
  rowOutcome,
  runnableTasks,
  sealCredentials,
  succeeded,
  validateManufacturingRows,
  type ProvisioningCatalog,
  type TaskStates,
} from '../../engine/provisioning/index.ts';

const catalog: ProvisioningCatalog = {
  profilesByHardware: new Map([
    ['tr', ['tracker']],
    ['bc', ['beacon', 'beacon-lite']],
  ]),
  profiles: new Map([
    ['tracker', { hardware: 'tr', components: ['mcu', 'ble'] }],
    ['beacon', { hardware: 'bc', components: ['mcu'] }],
    ['beacon-lite', { hardware: 'bc', components: ['mcu'] }],
  ]),
  releases: new Map([
    ['tr', new Map([['mcu', new Set(['1.0.0', '1.1.0'])], ['ble', new Set(['1.0.0'])]])],
    ['bc', new Map([['mcu', new Set(['2.0.0'])]])],
  ]),
  sites: new Map([
    ['plant-1', 'acme'],
    ['depot-9', 'globex'],
  ]),
};

describe('manufacturing logs', () => {
  it('a malformed CSV line fails alone, with its row and line, and the lines after it are read', () => {
    const csv = 'id,hardware,fw.mcu,fw.ble\nA-1,tr,1.0.0,1.0.0\nA-2,tr,"1.0.0,1.0.0\n\nA-3,tr,1.0.0\nA-4,tr,1.1.0,1.0.0\n';
    const { rows, failures } = parseManufacturingLog(csv, 'csv');
    expect(rows.map((r) => [r.id, r.row, r.line])).toEqual([
      ['A-1', 1, 2],
      ['A-4', 4, 6],
    ]);
    expect(failures.map((f) => [f.code, f.row, f.line])).toEqual([
      ['malformed-row', 2, 3],
      ['malformed-row', 3, 5],
    ]);
    expect(failures[1]?.reason).toContain('expected 4 fields');
  });

  it('never throws on any text with a header, and every row or failure has a line', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const { rows, failures } = parseManufacturingLog(`id,hardware\n${text}`, 'csv');
        for (const item of [...rows, ...failures]) expect(item.line).toBeGreaterThan(1);
      }),
    );
  });
});

describe('row validation', () => {
  const validate = (csv: string, shipments = 'id,site\n', defaultSite?: string) =>
    validateManufacturingRows(parseManufacturingLog(csv, 'csv').rows, parseShipmentLog(shipments, 'csv').rows, catalog, defaultSite ? { defaultSite } : {});

  it('takes the profile from the hardware, the site and tenant from the latest shipment, and labels from the log', () => {
    const { plans, failures } = validate(
      'id,hardware,imei,iccid,bleMac,fw.mcu,fw.ble\nT-1,tr,35,89,AA:BB,1.1.0,1.0.0\n',
      'id,site,shippedAt\nT-1,plant-1,2026-11-01\nT-1,depot-9,2026-11-20\n',
    );
    expect(failures).toEqual([]);
    expect(plans[0]).toMatchObject({ profile: 'tracker', site: 'depot-9', tenant: 'globex', labels: { hardware: 'tr', imei: '35', iccid: '89', bleMac: 'AA:BB' } });
  });

  it('fails each bad row alone with its own code', () => {
    const csv = [
      'id,hardware,test,fw.mcu,fw.ble',
      ',tr,pass,1.0.0,1.0.0', // 1 missing id
      'T-2,zz,pass,1.0.0,1.0.0', // 2 unknown hardware
      'T-3,tr,pass,9.9.9,1.0.0', // 3 firmware not released
      'T-4,tr,pass,1.0.0,1.0.0', // 4 fine
      'T-4,tr,pass,1.0.0,1.0.0', // 5 duplicate of 4
      'T-6,tr,fail,1.0.0,1.0.0', // 6 failed its test
      'T-7,tr,pass,1.0.0,', // 7 no ble version
      'T-8,bc,pass,2.0.0,', // 8 two profiles for bc
      'T-9,tr,pass,1.0.0,1.0.0', // 9 not shipped, no default site → no-site
    ].join('\n');
    const { plans, failures } = validate(csv, 'id,site\nT-4,plant-1\nT-2,plant-1\nT-3,plant-1\nT-6,plant-1\nT-7,plant-1\nT-8,plant-1\n');
    expect(plans.map((p) => p.deviceId)).toEqual(['T-4']);
    expect(failures.map((f) => [f.row, f.code])).toEqual([
      [1, 'missing-id'],
      [2, 'unknown-hardware'],
      [3, 'unknown-firmware'],
      [5, 'duplicate-id'],
      [6, 'test-failed'],
      [7, 'missing-firmware'],
      [8, 'ambiguous-profile'],
      [9, 'no-site'],
    ]);
    expect(failures.find((f) => f.code === 'duplicate-id')?.reason).toContain('row 4');
  });

  it('a default site serves unshipped devices, and must be declared', () => {
    expect(validate('id,hardware,fw.mcu,fw.ble\nT-1,tr,1.0.0,1.0.0\n', 'id,site\n', 'plant-1').plans[0]?.site).toBe('plant-1');
    expect(validate('id,hardware,fw.mcu,fw.ble\nT-1,tr,1.0.0,1.0.0\n', 'id,site\n', 'nowhere').failures[0]?.code).toBe('unknown-site');
  });

  it("tells a scoped operator nothing about another tenant: its site is as unknown as a missing one, its device id just 'in use'", () => {
    const rows = parseManufacturingLog('id,hardware,fw.mcu,fw.ble\nT-1,tr,1.0.0,1.0.0\nT-2,tr,1.0.0,1.0.0\nT-3,tr,1.0.0,1.0.0\n', 'csv').rows;
    const shipments = parseShipmentLog('id,site\nT-1,depot-9\nT-2,nowhere\nT-3,plant-1\n', 'csv').rows;
    const { plans, failures } = validateManufacturingRows(rows, shipments, catalog, { tenants: ['acme'], inUse: new Set(['T-3']) });
    expect(plans).toEqual([]);
    expect(failures.map((f) => [f.deviceId, f.code])).toEqual([
      ['T-1', 'unknown-site'],
      ['T-2', 'unknown-site'],
      ['T-3', 'device-exists'],
    ]);
    expect(failures[0]?.reason).not.toContain('globex');
    expect(failures[0]?.reason.replace('depot-9', 'X').replace('shipment row 1', '')).toBe(failures[1]?.reason.replace('nowhere', 'X').replace('shipment row 2', ''));
    expect(failures[2]?.reason).toBe('device id T-3 is already in use');
  });
});

describe('job figures', () => {
  it('rate from rows the workers settled since creation, ETA from the rest', () => {
    const figures = jobFigures({ rows: { total: 1000, done: 390, failed: 10 }, invalidRows: 10, createdAt: 0, until: 10_000 });
    expect(figures).toMatchObject({ settled: 400, ratio: 0.4, elapsedSeconds: 10, rowsPerSecond: 39, etaSeconds: 16 });
    expect(jobFigures({ rows: { total: 10, done: 0, failed: 0 }, invalidRows: 0, createdAt: 0, until: 5000 })).toMatchObject({ rowsPerSecond: null, etaSeconds: null });
    expect(jobFigures({ rows: { total: 10, done: 10, failed: 0 }, invalidRows: 0, createdAt: 0, until: 5000 }).etaSeconds).toBe(0);
  });
});

describe('task graph', () => {
  const fresh = (): TaskStates => initialTaskStates({ hasSim: true, carrier: true });

  it('runs register first, then credentials, site and activation, and ready last', () => {
    let states = fresh();
    expect(runnableTasks(states, 0)).toEqual(['register']);
    states = { ...states, register: succeeded(states.register) };
    expect(runnableTasks(states, 0)).toEqual(['credentials', 'site', 'activate']);
    states = { ...states, credentials: succeeded(states.credentials), site: succeeded(states.site) };
    expect(runnableTasks(states, 0)).toEqual(['activate']);
    states = { ...states, activate: succeeded(states.activate) };
    expect(runnableTasks(states, 0)).toEqual(['ready']);
    states = { ...states, ready: succeeded(states.ready) };
    expect(rowOutcome(states)).toBe('done');
  });

  it('skips activation for a device without a SIM', () => {
    expect(initialTaskStates({ hasSim: false, carrier: true }).activate.status).toBe('skipped');
  });

  it('retries with growing delays, then fails the row once attempts run out; retry-failed starts it over', () => {
    const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 10_000 };
    const base = fresh();
    let states: TaskStates = { ...base, register: succeeded(base.register) };
    const first = failedAttempt(states.activate, policy, { error: 'busy', permanent: false }, 1000, () => 1);
    expect(first).toMatchObject({ status: 'retrying', attempts: 1, nextAttemptAt: 1100 });
    states = { ...states, activate: first };
    expect(runnableTasks(states, 1099)).not.toContain('activate');
    expect(runnableTasks(states, 1100)).toContain('activate');
    const second = failedAttempt(first, policy, { error: 'busy', permanent: false }, 2000, () => 1);
    expect(second.nextAttemptAt).toBe(2200);
    const third = failedAttempt(second, policy, { error: 'busy', permanent: false }, 3000, () => 1);
    expect(third).toMatchObject({ status: 'failed', attempts: 3 });
    states = { ...states, activate: third };
    expect(rowOutcome(states)).toBe('failed');
    expect(runnableTasks(resetFailed(states), 0)).toContain('activate');
  });

  it('a permanent refusal fails at once', () => {
    const policy = PROVISIONING_TASKS.find((t) => t.name === 'activate')!.retry;
    expect(failedAttempt(fresh().activate, policy, { error: 'no such SIM', permanent: true }, 0, Math.random).status).toBe('failed');
  });

  it('backoff stays within half and all of its capped step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, r) => {
        const policy = { maxAttempts: 50, baseDelayMs: 200, maxDelayMs: 30_000 };
        const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        const delay = backoffDelayMs(attempt, policy, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(delay).toBeLessThanOrEqual(step);
      }),
    );
  });
});

describe('rate limit', () => {
  it('grants a burst, then tokens at the declared rate', () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, 0);
    expect(bucket.take(8, 0)).toBe(5);
    expect(bucket.take(1, 0)).toBe(0);
    expect(bucket.waitMs(3, 0)).toBe(300);
    expect(bucket.take(3, 300)).toBe(3);
    // Never more than the burst after a long idle.
    expect(bucket.take(100, 60_000)).toBe(5);
  });

  it('over any stretch of time grants at most burst + rate × time', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 20 })), { maxLength: 50 }), (steps) => {
        const bucket = new TokenBucket({ perSecond: 20, burst: 10 }, 0);
        let now = 0;
        let granted = 0;
        for (const [dt, want] of steps) {
          now += dt;
          granted += bucket.take(want, now);
        }
        expect(granted).toBeLessThanOrEqual(10 + Math.floor((now / 1000) * 20));
      }),
    );
  });
});

describe('sealed credentials', () => {
  it('are an age file Debian’s age opens with the matching identity, and nothing else does', async () => {
    const factory = await generateCredentialsIdentity();
    const other = await generateCredentialsIdentity();
    const sealed = await sealCredentials([{ deviceId: 'T-1', token: 'ffd_secret' }], [factory.recipient]);
    expect(sealed).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect(Buffer.from(sealed.replace(/-----[^-]+-----/g, ''), 'base64').toString('latin1')).not.toContain('ffd_secret');
    expect(await openCredentials(sealed, [factory.identity])).toEqual([{ deviceId: 'T-1', token: 'ffd_secret' }]);
    await expect(openCredentials(sealed, [other.identity])).rejects.toMatchObject({ code: 'invalid-credentials-key' });

    const dir = await mkdtemp(join(tmpdir(), 'fleetform-age-'));
    try {
      await writeFile(join(dir, 'factory-key.txt'), `${factory.identity}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'other-key.txt'), `${other.identity}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'batch.age'), sealed);
      const { stdout } = await promisify(execFile)('age', ['-d', '-i', join(dir, 'factory-key.txt'), join(dir, 'batch.age')]);
      expect(stdout).toBe('{"id":"T-1","token":"ffd_secret"}\n');
      await expect(promisify(execFile)('age', ['-d', '-i', join(dir, 'other-key.txt'), join(dir, 'batch.age')])).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are sealed only to native X25519 recipients, refused by code otherwise', async () => {
    const { recipient } = await generateCredentialsIdentity();
    expect(() => assertCredentialsRecipients([recipient])).not.toThrow();
    for (const bad of [[], ['age1notarecipient'], ['ssh-ed25519 AAAA'], [`${recipient.slice(0, -1)}${recipient.endsWith('q') ? 'p' : 'q'}`]]) {
      expect(() => assertCredentialsRecipients(bad)).toThrow(expect.objectContaining({ code: 'invalid-credentials-key' }));
    }
  });
});
