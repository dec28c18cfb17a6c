// Alerts in the engine: what the check-in observer adds per check-in (rules of rules/*.yaml,
// active-alert cache; no database round trip unless an alert changes state), what a check-in that
// opens an alert costs to write, and one periodic sweep (offline index + fleet aggregates) over
// a large fleet in PostgreSQL.
//   npx tsx bench/alerts.ts [--devices 100000] [--sites 500] [--checkins 100000]
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { INITIAL_FIRMWARE_STATE, type AlertRule, type CheckInRequest, type DeviceProfile, type Site, type Snapshot } from '../engine/model/index.ts';
import { FleetStore, type NewDevice } from '../engine/store/index.ts';
import { AlertService, type CheckInEvent } from '../engine/service/alerts.ts';
import type { ActiveRevision } from '../engine/service/index.ts';
import type { Secrets } from '../engine/service/core.ts';
import { openBenchDatabase } from './support/database.ts';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
}

function loadRules(): AlertRule[] {
  const dir = join(import.meta.dirname, '..', 'rules');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => doc.toJS() as AlertRule | null))
    .filter((doc): doc is AlertRule => doc?.kind === 'AlertRule')
    // Webhooks to the example's hosts would only queue deliveries; the bench measures the rules and the writes.
    .map((rule) => ({ ...rule, spec: { ...rule.spec, actions: (rule.spec.actions ?? []).filter((a) => a.type !== 'webhook') } }));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;

async function main(): Promise<void> {
  const devices = flag('devices', 100_000);
  const sites = flag('sites', 500);
  const checkIns = flag('checkins', 100_000);
  const log = pino({ level: process.env.FLEETFORM_LOG_LEVEL ?? 'warn' });
  const database = await openBenchDatabase('alerts');
  const store = await FleetStore.open({ url: database.url });

  try {
    const rules = loadRules();
    const siteName = (i: number): string => `site-${i % sites}`;
    const siteMap = new Map<string, Site>();
    for (let i = 0; i < sites; i++) {
      siteMap.set(siteName(i), { apiVersion: 'fleetform/v1', kind: 'Site', metadata: { name: siteName(i) }, spec: { tenant: 'acme', timezone: 'UTC' } });
    }
    const profile = { apiVersion: 'fleetform/v1', kind: 'DeviceProfile', metadata: { name: 'locator' }, spec: { hardware: 'tr', components: ['mcu', 'ble'], checkIn: { intervalSeconds: 600, offlineAfterMissed: 3 } } } as unknown as DeviceProfile;
    // Only what the alert service reads of a snapshot: rules, sites (tenants) and profiles (check-in policy).
    const snapshot = { revision: 'bench', alertRules: rules, sites: siteMap, profiles: new Map([['locator', profile]]) } as unknown as Snapshot;
    const active: ActiveRevision = { sha: 'bench', snapshot, secrets: { has: () => false } as unknown as Secrets, appliedAt: new Date(), memo: new Map() };
    const t0 = Date.parse('2026-11-22T08:00:00Z');
    const alerts = new AlertService({
      store,
      revision: () => active,
      now: () => new Date(t0),
      random: () => 0.5,
      log,
      authorize: async () => ({ name: 'bench', role: 'admin', tenants: null }),
      webhookIntervalMs: 0,
      cellTowerRefreshMs: 0,
    });
    await alerts.start();

    // ── the fleet: devices with last check-ins; 40 % of one site past its deadline ──
    const started = Date.now();
    const chunk = 5000;
    for (let offset = 0; offset < devices; offset += chunk) {
      const batch: NewDevice[] = [];
      for (let i = offset; i < Math.min(devices, offset + chunk); i++) {
        batch.push({ id: `dev-${i}`, tenant: 'acme', profile: 'locator', site: siteName(i), labels: {}, tokenHash: `h${i}`, firmwareState: INITIAL_FIRMWARE_STATE });
      }
      await store.devices.insertMany(batch);
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(
      `update device set status = 'converged', reported_firmware = '{"mcu":"2.3.1","ble":"1.4.0"}', last_cell = '310-410-1-' || (substr(id, 5)::int % 997),
         last_uptime_ms = (substr(id, 5)::int % 60) * 86400000::bigint,
         last_check_in_at = $1::timestamptz,
         offline_after_at = case when site = 'site-7' and (substr(id, 5)::int / $4::int) % 5 < 2 then $2::timestamptz else $3::timestamptz end`,
      [new Date(t0 - 600_000), new Date(t0 - 60_000), new Date(t0 + 1_200_000), sites],
    );
    await client.query('analyze device');
    await client.end();
    const loadSeconds = (Date.now() - started) / 1000;

    // ── per check-in: the observer ──
    const event = (i: number, battery: number): CheckInEvent & { status: 'converged'; previousCheckInAt: Date } => {
      const request: CheckInRequest = {
        reported: { firmware: { mcu: '2.3.1', ble: '1.4.0' }, configHash: 'h' },
        telemetry: { time: '2026-11-22T08:00:00Z', battery, uptimeMs: (i % 40) * 86_400_000, movement: i % 3 === 0, cell: { mcc: 310, mnc: 410, lac: 1, cid: i % 997 } },
      };
      return {
        device: { id: `dev-${i % devices}`, profile: 'locator', site: siteName(i), labels: {} },
        request,
        answer: { revision: 'bench', configHash: 'h', commands: [], firmware: null, nextCheckInSeconds: 600 },
        location: { source: 'cell', lat: 40, lon: -105, accuracyM: 1500 },
        revision: active,
        at: new Date(t0 + i),
        status: 'converged',
        previousCheckInAt: new Date(t0 - 600_000 + i),
      };
    };
    const quiet = Array.from({ length: checkIns }, (_, i) => event(i, 20 + (i % 80)));
    for (let i = 0; i < 2000; i++) alerts.observeCheckIn(quiet[i]!); // warm-up
    const samples: number[] = [];
    for (const e of quiet) {
      const begin = process.hrtime.bigint();
      alerts.observeCheckIn(e);
      samples.push(Number(process.hrtime.bigint() - begin));
    }
    samples.sort((a, b) => a - b);

    // ── check-ins that open an alert (battery 5): the write is off the answer's path ──
    const opening = Array.from({ length: 2000 }, (_, i) => event(devices - 1 - i, 5));
    const writeStart = process.hrtime.bigint();
    for (const e of opening) alerts.observeCheckIn(e);
    await alerts.idle();
    const writeMs = Number(process.hrtime.bigint() - writeStart) / 1e6;
    const again = process.hrtime.bigint();
    for (const e of opening) alerts.observeCheckIn(e);
    await alerts.idle();
    const dedupMs = Number(process.hrtime.bigint() - again) / 1e6;

    // ── the sweep ──
    const sweeps: { ms: number; marked: number; results: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const begin = process.hrtime.bigint();
      const outcome = await alerts.sweep(new Date(t0 + round * 1000));
      await alerts.idle();
      sweeps.push({ ms: Number(process.hrtime.bigint() - begin) / 1e6, marked: outcome.markedOffline, results: outcome.fleetResults });
    }
    const fleetOpen = (await alerts.alerts.listAlerts({ tenants: null, status: 'active', rule: 'widespread-comms-failure' })).length;
    await alerts.close();

    const cpu = cpus()[0]?.model ?? 'unknown';
    console.log(`alerts bench — ${cpus().length} × ${cpu} (nproc ${cpus().length}), node ${process.version}`);
    console.log(`rules: ${rules.length} from rules/ (${rules.filter((r) => r.spec.scope === 'device').length} device, ${rules.filter((r) => r.spec.scope === 'fleet').length} fleet); fleet: ${devices} devices over ${sites} sites (loaded in ${loadSeconds.toFixed(1)} s)`);
    console.log(`observer per check-in, nothing changes (${checkIns} check-ins): p50 ${us(percentile(samples, 50))}, p99 ${us(percentile(samples, 99))}, p99.9 ${us(percentile(samples, 99.9))}, no database round trip`);
    console.log(`2000 check-ins opening an alert each: written in ${writeMs.toFixed(0)} ms (${((writeMs * 1000) / 2000).toFixed(0)} µs each; batches of up to 500 per transaction, after the answer)`);
    console.log(`the same 2000 again (deduplicated from the cache, nothing written): ${dedupMs.toFixed(1)} ms`);
    for (const [i, s] of sweeps.entries()) {
      console.log(`sweep ${i + 1}: ${s.ms.toFixed(0)} ms (marked offline ${s.marked}, ${s.results} fleet groups evaluated)`);
    }
    console.log(`active site-level alerts: ${fleetOpen}`);
  } finally {
    await store.close();
    await database.close();
  }
}

await main();
