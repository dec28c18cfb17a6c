// The device list: filters the API has (status, site, profile), an exact id to jump to, pages of 50.
// The API pages by limit/offset without a total; the console asks for one row more than it shows to
// know whether there is a next page, and takes the total from the fleet summary when one filter or
// none is set (the summary counts exactly what the list would).
import { useState } from 'preact/hooks';
import { ApiError, withQuery } from '../api.ts';
import { count, firmwareText } from '../format.ts';
import { useResource } from '../poll.ts';
import { href, navigate, route } from '../router.ts';
import { api } from '../session.ts';
import { DEVICE_STATUSES, type DeviceSummary, type FleetSummary } from '../types.ts';
import { Badge, Empty, ErrorNote, Loading, Time } from '../ui.tsx';

export const PAGE_SIZE = 50;

interface Filters {
  status: string;
  site: string;
  profile: string;
  page: number;
}

function readFilters(query: URLSearchParams): Filters {
  const page = Number(query.get('page') ?? '1');
  return {
    status: query.get('status') ?? '',
    site: query.get('site') ?? '',
    profile: query.get('profile') ?? '',
    page: Number.isSafeInteger(page) && page >= 1 ? page : 1,
  };
}

function filtersHref(filters: Filters): string {
  return href('devices', { status: filters.status, site: filters.site, profile: filters.profile, page: filters.page > 1 ? filters.page : undefined });
}

/** The total the summary knows for these filters, or null when it cannot (two or more filters). */
function knownTotal(summary: FleetSummary | null, filters: Filters): number | null {
  if (!summary) return null;
  const set = [filters.status, filters.site, filters.profile].filter((f) => f !== '').length;
  if (set === 0) return summary.devices;
  if (set > 1) return null;
  if (filters.status) return summary.byStatus[filters.status] ?? 0;
  if (filters.site) return summary.bySite[filters.site] ?? 0;
  return summary.byProfile[filters.profile] ?? 0;
}

function GoToDevice() {
  const [id, setId] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const wanted = id.trim();
    if (!wanted) return;
    setError(null);
    try {
      await api.get(`/v1/devices/${encodeURIComponent(wanted)}`);
      navigate(href('devices', wanted));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} role="search">
      <label for="device-id">Device id</label>
      <input id="device-id" type="search" value={id} spellcheck={false} autocomplete="off" onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit">Open</button>
      <ErrorNote error={error} />
    </form>
  );
}

function Select({ id, label, value, options, onChange }: { id: string; label: string; value: string; options: string[]; onChange(value: string): void }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
        {value && !options.includes(value) && <option value={value}>{value}</option>}
      </select>
    </div>
  );
}

export function DevicesPage() {
  const filters = readFilters(route.value.query);
  const summary = useResource<FleetSummary>('/v1/fleet/summary', 30_000);
  const path = withQuery('/v1/devices', {
    status: filters.status,
    site: filters.site,
    profile: filters.profile,
    limit: PAGE_SIZE + 1,
    offset: (filters.page - 1) * PAGE_SIZE,
  });
  const list = useResource<{ devices: DeviceSummary[] }>(path);
  const rows = list.data?.devices.slice(0, PAGE_SIZE) ?? [];
  const hasNext = (list.data?.devices.length ?? 0) > PAGE_SIZE;
  const total = knownTotal(summary.data, filters);
  const pages = total === null ? null : Math.max(1, Math.ceil(total / PAGE_SIZE));
  const first = (filters.page - 1) * PAGE_SIZE + 1;
  const set = (change: Partial<Filters>): void => navigate(filtersHref({ ...filters, page: 1, ...change }));
  const sites = Object.keys(summary.data?.bySite ?? {}).sort();
  const profiles = Object.keys(summary.data?.byProfile ?? {}).sort();

  return (
    <>
      <h1 tabIndex={-1}>Devices</h1>
      <div class="toolbar">
        <form class="filters" aria-label="Filter devices" onSubmit={(e) => e.preventDefault()}>
          <Select id="filter-status" label="Status" value={filters.status} options={[...DEVICE_STATUSES]} onChange={(status) => set({ status })} />
          <Select id="filter-site" label="Site" value={filters.site} options={sites} onChange={(site) => set({ site })} />
          <Select id="filter-profile" label="Profile" value={filters.profile} options={profiles} onChange={(profile) => set({ profile })} />
        </form>
        <GoToDevice />
      </div>
      <ErrorNote error={list.error} />
      {list.loading && <Loading />}
      {list.data && rows.length === 0 && <Empty>No device matches.</Empty>}
      {rows.length > 0 && (
        <>
          <p class="muted" role="status" aria-live="polite" id="device-range">
            Devices {count(first)}–{count(first + rows.length - 1)}
            {total !== null ? ` of ${count(total)}` : ''}
          </p>
          <div class="table-scroll">
            <table class="devices">
              <thead>
                <tr>
                  <th scope="col">device</th>
                  <th scope="col">status</th>
                  <th scope="col">site</th>
                  <th scope="col">profile</th>
                  <th scope="col">firmware</th>
                  <th scope="col">last check-in</th>
                  <th scope="col">labels</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((device) => (
                  <tr key={device.id}>
                    <th scope="row"><a href={href('devices', device.id)}>{device.id}</a></th>
                    <td><Badge value={device.status} /></td>
                    <td>{device.site}</td>
                    <td>{device.profile}</td>
                    <td>{firmwareText(device.reported.firmware)}</td>
                    <td><Time iso={device.lastCheckInAt} /></td>
                    <td class="labels">
                      {Object.entries(device.labels ?? {}).map(([k, v]) => (
                        <span class="label" key={k}>
                          {k}={v}
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <nav class="pager" aria-label="Pages">
        {filters.page > 1 ? <a href={filtersHref({ ...filters, page: 1 })}>First</a> : <span class="muted">First</span>}
        {filters.page > 1 ? <a href={filtersHref({ ...filters, page: filters.page - 1 })} rel="prev">Previous</a> : <span class="muted">Previous</span>}
        <span aria-current="page">
          Page {count(filters.page)}
          {pages !== null ? ` of ${count(pages)}` : ''}
        </span>
        {hasNext ? <a href={filtersHref({ ...filters, page: filters.page + 1 })} rel="next">Next</a> : <span class="muted">Next</span>}
        {pages !== null && filters.page < pages ? <a href={filtersHref({ ...filters, page: pages })}>Last</a> : <span class="muted">Last</span>}
      </nav>
    </>
  );
}
