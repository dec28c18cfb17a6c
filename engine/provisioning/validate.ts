// Checks each manufactured device against the applied fleet config: its hardware must be a known
// model with a profile, its flashed firmware must be released for that hardware, and it needs a
// site (from the shipment log, or the job's default). A bad row fails alone; the rest proceed.
import type { Snapshot } from '../model/index.ts';
import type { ManufacturingRow, RowFailure, ShipmentRow } from './logs.ts';

/** What validation needs to know of the fleet, drawn from a snapshot. */
export interface ProvisioningCatalog {
  /** hardware → profile names using it. */
  profilesByHardware: ReadonlyMap<string, readonly string[]>;
  /** profile → its hardware and components. */
  profiles: ReadonlyMap<string, { hardware: string; components: readonly string[] }>;
  /** hardware → component → released versions. */
  releases: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;
  /** site → tenant. */
  sites: ReadonlyMap<string, string>;
}

export function catalogFromSnapshot(snapshot: Snapshot): ProvisioningCatalog {
  const profilesByHardware = new Map<string, string[]>();
  const profiles = new Map<string, { hardware: string; components: readonly string[] }>();
  for (const [name, profile] of snapshot.profiles) {
    profiles.set(name, { hardware: profile.spec.hardware, components: profile.spec.components });
    const list = profilesByHardware.get(profile.spec.hardware) ?? [];
    list.push(name);
    profilesByHardware.set(profile.spec.hardware, list);
  }
  const releases = new Map<string, Map<string, Set<string>>>();
  for (const [hardware, components] of snapshot.releases) {
    const byComponent = new Map<string, Set<string>>();
    for (const [component, list] of components) byComponent.set(component, new Set(list.map((r) => r.spec.version)));
    releases.set(hardware, byComponent);
  }
  const sites = new Map<string, string>();
  for (const [name, site] of snapshot.sites) sites.set(name, site.spec.tenant);
  return { profilesByHardware, profiles, releases, sites };
}

/** A row that passed validation: everything the tasks need to provision the device. */
export interface ProvisioningPlan {
  row: number;
  line: number;
  deviceId: string;
  hardware: string;
  profile: string;
  site: string;
  tenant: string;
  labels: Record<string, string>;
  firmware: Record<string, string>;
  iccid: string | null;
  imei: string | null;
}

export interface ValidationOptions {
  /** Site for devices the shipment log does not mention (else such rows fail with no-site). */
  defaultSite?: string | null;
  /** Tenants the job's operator may provision into; null: every tenant. */
  tenants?: readonly string[] | null;
  /**
   * Device ids already in use where this job may not reuse them: registered outside
   * provisioning (any tenant), or provisioned into a tenant outside the operator's scope. Such a
   * row fails with `device-exists`, the same answer whichever tenant holds the id.
   */
  inUse?: ReadonlySet<string>;
}

export interface ValidationResult {
  plans: ProvisioningPlan[];
  failures: RowFailure[];
}

/** Device ids as the engine's API accepts them in a URL path segment. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const PASSING_TESTS = new Set(['pass', 'passed', 'ok', 'true', '1']);

/** The one answer for a device id that cannot be provisioned because it is taken, wherever it is. */
export function deviceInUseReason(deviceId: string): string {
  return `device id ${deviceId} is already in use`;
}

/** The site each device was last shipped to: the latest shippedAt wins, then the later row. */
export function latestShipments(shipments: readonly ShipmentRow[]): Map<string, ShipmentRow> {
  const latest = new Map<string, ShipmentRow>();
  for (const shipment of shipments) {
    const current = latest.get(shipment.id);
    if (!current || (shipment.shippedAt ?? '') >= (current.shippedAt ?? '')) latest.set(shipment.id, shipment);
  }
  return latest;
}

export function validateManufacturingRows(
  rows: readonly ManufacturingRow[],
  shipments: readonly ShipmentRow[],
  catalog: ProvisioningCatalog,
  options: ValidationOptions = {},
): ValidationResult {
  const plans: ProvisioningPlan[] = [];
  const failures: RowFailure[] = [];
  const firstRowOf = new Map<string, number>();
  const shippedTo = latestShipments(shipments);
  const tenants = options.tenants ?? null;

  for (const row of rows) {
    const fail = (code: RowFailure['code'], reason: string): void => {
      failures.push({ log: 'manufacturing', row: row.row, line: row.line, deviceId: row.id === '' ? null : row.id, code, reason });
    };
    if (row.id === '') {
      fail('missing-id', 'the row has no device id');
      continue;
    }
    if (!DEVICE_ID.test(row.id)) {
      fail('invalid-id', `device id ${JSON.stringify(row.id)} must be 1-128 letters, digits, '.', '_', ':' or '-'`);
      continue;
    }
    if (options.inUse?.has(row.id)) {
      fail('device-exists', deviceInUseReason(row.id));
      continue;
    }
    const first = firstRowOf.get(row.id);
    if (first !== undefined) {
      fail('duplicate-id', `device ${row.id} is already on row ${first} of this file`);
      continue;
    }
    firstRowOf.set(row.id, row.row);
    if (row.hardware === '') {
      fail('missing-hardware', `device ${row.id} has no hardware model`);
      continue;
    }
    const candidates = catalog.profilesByHardware.get(row.hardware);
    if (!candidates || candidates.length === 0) {
      fail('unknown-hardware', `hardware model ${row.hardware} has no DeviceProfile in the applied revision`);
      continue;
    }
    let profileName: string;
    if (row.profile !== null) {
      const named = catalog.profiles.get(row.profile);
      if (!named || named.hardware !== row.hardware) {
        fail('unknown-profile', `profile ${row.profile} is not declared for hardware ${row.hardware}`);
        continue;
      }
      profileName = row.profile;
    } else if (candidates.length > 1) {
      fail('ambiguous-profile', `hardware ${row.hardware} is used by profiles ${candidates.join(', ')}: the row must name its profile`);
      continue;
    } else {
      profileName = candidates[0]!;
    }
    const profile = catalog.profiles.get(profileName)!;
    const released = catalog.releases.get(row.hardware);
    const firmwareProblem = checkFirmware(row, profile.components, released);
    if (firmwareProblem) {
      fail(firmwareProblem.code, firmwareProblem.reason);
      continue;
    }
    if (row.test !== null && !PASSING_TESTS.has(row.test.toLowerCase())) {
      fail('test-failed', `device ${row.id} did not pass its end-of-line test (${row.test})`);
      continue;
    }
    const shipment = shippedTo.get(row.id);
    const site = shipment?.site ?? options.defaultSite ?? null;
    if (site === null) {
      fail('no-site', `device ${row.id} is in no shipment and the job has no default site`);
      continue;
    }
    const tenant = catalog.sites.get(site);
    // A site of another tenant gets the same answer as one that does not exist: nothing to learn.
    if (tenant === undefined || (tenants !== null && !tenants.includes(tenant))) {
      const where = shipment ? `shipment row ${shipment.row}` : 'the default site';
      fail('unknown-site', `site ${site} (${where}) is not a site of ${tenants === null ? 'the applied revision' : "this operator's tenants"}`);
      continue;
    }
    const labels: Record<string, string> = { hardware: row.hardware };
    if (row.imei !== null) labels.imei = row.imei;
    if (row.iccid !== null) labels.iccid = row.iccid;
    if (row.bleMac !== null) labels.bleMac = row.bleMac;
    plans.push({
      row: row.row,
      line: row.line,
      deviceId: row.id,
      hardware: row.hardware,
      profile: profileName,
      site,
      tenant,
      labels,
      firmware: row.firmware,
      iccid: row.iccid,
      imei: row.imei,
    });
  }
  return { plans, failures };
}

function checkFirmware(
  row: ManufacturingRow,
  components: readonly string[],
  released: ReadonlyMap<string, ReadonlySet<string>> | undefined,
): { code: RowFailure['code']; reason: string } | null {
  for (const component of Object.keys(row.firmware)) {
    if (!components.includes(component)) {
      return { code: 'unknown-component', reason: `hardware ${row.hardware} has no firmware component ${component}` };
    }
  }
  for (const component of components) {
    const version = row.firmware[component];
    if (version === undefined) return { code: 'missing-firmware', reason: `no ${component} firmware version logged for device ${row.id}` };
    if (!released?.get(component)?.has(version)) {
      return { code: 'unknown-firmware', reason: `${component} ${version} is not a FirmwareRelease of hardware ${row.hardware} in the manifests` };
    }
  }
  return null;
}
