// Per-check-in cost of the alert rules: derive the facts and evaluate every device rule,
// precompiled predicates vs json-rules-engine. Rules: rules/*.yaml when present, else the
// example set the tests use. Run: npx tsx bench/rules.ts [iterations]
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { AlertRule, DeviceStatus, ResolvedLocationSource } from '../engine/model/index.ts';
import { resolveLocation, cellTowerIndex, beaconPositionIndex } from '../engine/location/index.ts';
import {
  buildRuleSet,
  deriveDeviceFacts,
  evaluateDeviceRules,
  evaluateDeviceRulesReference,
  evaluateFleetAggregates,
  type DeviceFactsInput,
  type FleetDevice,
} from '../engine/rules/index.ts';
import { EXAMPLE_RULES } from '../test/rules/example-rules.ts';

const iterations = Number(process.argv[2] ?? 50_000);

function loadRules(): { rules: AlertRule[]; from: string } {
  const dir = join(import.meta.dirname, '..', 'rules');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  } catch {
    files = [];
  }
  const rules = files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
      .map((doc) => doc.toJS() as AlertRule | null)
      .filter((doc): doc is AlertRule => doc?.kind === 'AlertRule'),
  );
  return rules.length > 0 ? { rules, from: `rules/ (${files.length} files)` } : { rules: EXAMPLE_RULES, from: 'test/rules/example-rules.ts' };
}

// A deterministic stream of varied check-ins (xorshift, no Math.random).
let seed = 0x2545f491;
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const now = Date.parse('2026-11-22T08:00:00Z');
const beacons = beaconPositionIndex([
  { id: 'b1', lat: 48.1372, lon: 11.5756 },
  { id: 'b2', lat: 48.1374, lon: 11.5759 },
  { id: 'b3', lat: 48.1370, lon: 11.5760 },
]);
const cellTower = cellTowerIndex([{ mcc: 262, mnc: 1, lac: 4711, cid: 1, lat: 48.14, lon: 11.58, rangeM: 1500 }]);

function checkIn(i: number): DeviceFactsInput {
  const telemetry: DeviceFactsInput['telemetry'] = {
    time: new Date(now).toISOString(),
    battery: Math.floor(random() * 100),
    uptimeMs: Math.floor(random() * 60 * 86_400_000),
    movement: random() < 0.2,
    temperatureC: Math.floor(random() * 100) - 30,
    cell: { mcc: 262, mnc: 1, lac: 4711, cid: 1 },
  };
  const source = pick(['gps', 'ble', 'cell'] as const);
  if (source === 'gps') telemetry.gps = { lat: 48.1, lon: 11.5, accuracyM: 8 };
  if (source === 'ble') telemetry.ble = [{ id: 'b1', rssi: -65 }, { id: 'b2', rssi: -72 }, { id: 'b3', rssi: -80 }];
  return {
    device: { id: `trk-${i}`, profile: 'tracker-v2', site: pick(['dealer-munich', 'dealer-hamburg']), labels: { tracking: pick(['required', 'optional']) } },
    telemetry,
    reported: { firmware: { mcu: pick(['2.3.0', '2.3.1', '2.4.0']), ble: '1.4.0' }, configHash: pick(['h1', 'h2']), state: { movementLock: random() < 0.5 } },
    desiredConfigHash: 'h1',
    previous: { at: now - 3600_000, battery: Math.floor(random() * 100) },
    location: { source: 'unknown' as ResolvedLocationSource },
    status: pick(['converged', 'drifted', 'upgrading'] as DeviceStatus[]),
    now,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function report(name: string, samplesNs: Float64Array): void {
  const sorted = samplesNs.slice().sort();
  const us = (ns: number) => (ns / 1000).toFixed(2).padStart(8);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.log(`${name.padEnd(44)} p50 ${us(percentile(sorted, 50))} µs   p99 ${us(percentile(sorted, 99))} µs   p99.9 ${us(percentile(sorted, 99.9))} µs   mean ${us(mean)} µs`);
}

const { rules, from } = loadRules();
const buildStart = process.hrtime.bigint();
const ruleSet = buildRuleSet(rules);
const buildNs = Number(process.hrtime.bigint() - buildStart);
const inputs = Array.from({ length: 1000 }, (_, i) => checkIn(i));
for (const input of inputs) input.location = resolveLocation(input.telemetry, { beacons, cellTower });

console.log(`rules bench — ${iterations} check-ins, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
console.log(`rules from ${from}: ${ruleSet.deviceRules.length} device rules, ${ruleSet.fleetRules.length} fleet rules; buildRuleSet ${(buildNs / 1e6).toFixed(2)} ms (once per revision)`);

// Warm up both paths so the JIT has settled.
let holding = 0;
for (let i = 0; i < 5000; i++) {
  const facts = deriveDeviceFacts(inputs[i % inputs.length]!);
  holding += evaluateDeviceRules(ruleSet, facts).filter((e) => e.holds).length;
  await evaluateDeviceRulesReference(ruleSet, facts);
}

const location = new Float64Array(iterations);
const compiled = new Float64Array(iterations);
for (let i = 0; i < iterations; i++) {
  const input = inputs[i % inputs.length]!;
  const t0 = process.hrtime.bigint();
  resolveLocation(input.telemetry, { beacons, cellTower });
  const t1 = process.hrtime.bigint();
  const facts = deriveDeviceFacts(input);
  const results = evaluateDeviceRules(ruleSet, facts);
  const t2 = process.hrtime.bigint();
  location[i] = Number(t1 - t0);
  compiled[i] = Number(t2 - t1);
  if (results.length === 0) holding--;
}

const referenceRuns = Math.min(iterations, 20_000);
const reference = new Float64Array(referenceRuns);
for (let i = 0; i < referenceRuns; i++) {
  const input = inputs[i % inputs.length]!;
  const t0 = process.hrtime.bigint();
  const facts = deriveDeviceFacts(input);
  await evaluateDeviceRulesReference(ruleSet, facts);
  reference[i] = Number(process.hrtime.bigint() - t0);
}

report('resolveLocation', location);
report('facts + rules, precompiled (what runs)', compiled);
report(`facts + rules, json-rules-engine (${referenceRuns} runs)`, reference);

// Fleet sweep: aggregates over a 250k-device index.
const fleet: FleetDevice[] = Array.from({ length: 250_000 }, (_, i) => ({
  id: `trk-${i}`,
  site: `site-${i % 500}`,
  cell: `262-1-4711-${i % 2000}`,
  firmware: { mcu: pick(['2.3.0', '2.3.1', '2.4.0']), ble: '1.4.0' },
  profile: 'tracker-v2',
  status: random() < 0.02 ? 'offline' : 'converged',
  lastCheckInAt: now - Math.floor(random() * 3 * 3600_000),
}));
const sweepStart = process.hrtime.bigint();
const aggregates = evaluateFleetAggregates(ruleSet, fleet, now, { checkInPolicy: () => ({ intervalSeconds: 3600 }) });
console.log(
  `evaluateFleetAggregates over ${fleet.length} devices: ${(Number(process.hrtime.bigint() - sweepStart) / 1e6).toFixed(1)} ms, ${aggregates.length} group results, ${aggregates.filter((a) => a.holds).length} holding`,
);
if (holding < 0) console.log('(unreachable: keeps the results alive)');
