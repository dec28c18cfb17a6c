// The fleet at a glance for one operator: devices by status, site and profile within its tenants
// (GET /v1/fleet/summary — the console's overview and its device-list page totals).
import type { FleetSummary } from '../http/index.ts';
import type { FleetStore } from '../store/index.ts';

function tally(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** `tenants` null: every tenant. One read of the device table's grouping columns (the rollout view's). */
export async function summarizeFleet(store: FleetStore, tenants: readonly string[] | null): Promise<FleetSummary> {
  const rows = await store.deviceMembership(tenants);
  const summary: FleetSummary = { devices: rows.length, byStatus: {}, bySite: {}, byProfile: {} };
  for (const row of rows) {
    tally(summary.byStatus, row.status);
    tally(summary.bySite, row.site);
    tally(summary.byProfile, row.profile);
  }
  return summary;
}
