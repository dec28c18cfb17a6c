// The fleet as review sees it: every registered device (in the given tenants) with its last
// reported firmware and config hash. Shared by the engine's plan route and `fleetform diff
// --database-url` / `fleet export`.
import type { FleetDevice } from '../review/index.ts';
import type { FleetStore } from '../store/index.ts';

const PAGE = 5_000;

/** Ordered by id, read page by page. `tenants` null: every tenant. */
export async function readFleetDevices(store: FleetStore, tenants: readonly string[] | null): Promise<FleetDevice[]> {
  const devices: FleetDevice[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const rows = await store.devices.list({ tenants, limit: PAGE, offset });
    for (const row of rows) {
      const device: FleetDevice = {
        id: row.id,
        profile: row.profile,
        site: row.site,
        labels: row.labels ?? {},
        firmware: row.reportedFirmware ?? {},
        configHash: row.reportedConfigHash,
      };
      if (row.configOverride) device.configOverride = row.configOverride;
      devices.push(device);
    }
    if (rows.length < PAGE) return devices;
  }
}
