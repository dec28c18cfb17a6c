// The fleet at a glance for one operator: devices by status, site and profile within its tenants
// (GET /v1/fleet/summary — the console's overview and its device-list page totals).
import type { FleetSummary } from '../http/index.ts';
import { DatabaseUnavailableError, isConnectionFailure, type FleetStore } from '../store/index.ts';

/**
 * One grouped scan of the device table, summed here (the groups are few: statuses × sites ×
 * profiles). Reading every device row instead (`store.devices.membership`, as the rollout view does)
 * took ~2 s at 100,000 devices; this 129 ms p50 on a loaded machine (BENCHMARKS.md, console).
 * The query belongs in the device store (engine/store/devices.ts); it sits here only because the
 * console's change was not to touch engine/store while it was being split.
 */
export async function summarizeFleet(store: FleetStore, tenants: readonly string[] | null): Promise<FleetSummary> {
  let rows: { status: string; site: string; profile: string; n: number }[];
  try {
    const result = (await store.orm.em
      .getConnection()
      .getKnex()
      .raw(`select status, site, profile, count(*)::int as n from device ${tenants ? 'where tenant = any(?)' : ''} group by status, site, profile`, tenants ? [[...tenants]] : [])) as {
      rows: typeof rows;
    };
    rows = result.rows;
  } catch (error) {
    // As every store read: a database gone away is a 503 with Retry-After, not a 500.
    throw isConnectionFailure(error) ? new DatabaseUnavailableError(error) : error;
  }
  const summary: FleetSummary = { devices: 0, byStatus: {}, bySite: {}, byProfile: {} };
  for (const row of rows) {
    summary.devices += row.n;
    summary.byStatus[row.status] = (summary.byStatus[row.status] ?? 0) + row.n;
    summary.bySite[row.site] = (summary.bySite[row.site] ?? 0) + row.n;
    summary.byProfile[row.profile] = (summary.byProfile[row.profile] ?? 0) + row.n;
  }
  return summary;
}
