// Alerts: filter by status, severity, site and rule; acknowledge (operators); one alert's webhook
// deliveries with every attempt.
import { useState } from 'preact/hooks';
import { ApiError, withQuery } from '../api.ts';
import { count, dateTime, jsonText } from '../format.ts';
import { useResource } from '../poll.ts';
import { href, navigate, route } from '../router.ts';
import { api, canWrite } from '../session.ts';
import type { Alert, AlertDetail, FleetSummary } from '../types.ts';
import { Badge, Empty, ErrorNote, KeyValues, Loading, Panel, Time } from '../ui.tsx';

const PAGE_SIZE = 50;
const STATUSES = ['active', 'open', 'acknowledged', 'resolved'];
const SEVERITIES = ['critical', 'warning', 'info'];

interface Filters {
  status: string;
  severity: string;
  site: string;
  rule: string;
  page: number;
}

function readFilters(query: URLSearchParams): Filters {
  const page = Number(query.get('page') ?? '1');
  return {
    // No status parameter: the open and acknowledged ones. `all` is asked for explicitly.
    status: query.get('status') ?? 'active',
    severity: query.get('severity') ?? '',
    site: query.get('site') ?? '',
    rule: query.get('rule') ?? '',
    page: Number.isSafeInteger(page) && page >= 1 ? page : 1,
  };
}

function filtersHref(f: Filters): string {
  return href('alerts', { status: f.status === 'active' ? undefined : f.status, severity: f.severity, site: f.site, rule: f.rule, page: f.page > 1 ? f.page : undefined });
}

export function AckButton({ alert, onDone }: { alert: Alert; onDone(): void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  if (!canWrite.value || alert.status !== 'open') return null;
  const ack = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/v1/alerts/${encodeURIComponent(alert.id)}/ack`);
      onDone();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="small" onClick={ack} disabled={busy} aria-label={`Acknowledge ${alert.rule} ${alert.dedupeKey}`}>
        Acknowledge
      </button>
      <ErrorNote error={error} />
    </>
  );
}

function RuleFilter({ value, onChange }: { value: string; onChange(rule: string): void }) {
  const [text, setText] = useState(value);
  return (
    <form
      class="field"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(text.trim());
      }}
    >
      <label for="filter-rule">Rule</label>
      <input id="filter-rule" type="search" value={text} spellcheck={false} onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)} onChange={() => onChange(text.trim())} />
    </form>
  );
}

export function AlertsPage() {
  const filters = readFilters(route.value.query);
  const summary = useResource<FleetSummary>('/v1/fleet/summary', 60_000);
  const path = withQuery('/v1/alerts', {
    status: filters.status === 'all' ? undefined : filters.status,
    severity: filters.severity,
    site: filters.site,
    rule: filters.rule,
    limit: PAGE_SIZE + 1,
    offset: (filters.page - 1) * PAGE_SIZE,
  });
  const list = useResource<{ alerts: Alert[] }>(path);
  const rows = list.data?.alerts.slice(0, PAGE_SIZE) ?? [];
  const hasNext = (list.data?.alerts.length ?? 0) > PAGE_SIZE;
  const set = (change: Partial<Filters>): void => navigate(filtersHref({ ...filters, page: 1, ...change }));
  const sites = Object.keys(summary.data?.bySite ?? {}).sort();
  return (
    <>
      <h1 tabIndex={-1}>Alerts</h1>
      <div class="toolbar">
        <div class="filters" role="group" aria-label="Filter alerts">
          <div class="field">
            <label for="filter-alert-status">Status</label>
            <select id="filter-alert-status" value={filters.status} onChange={(e) => set({ status: (e.currentTarget as HTMLSelectElement).value })}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s === 'active' ? 'active (open or acknowledged)' : s}
                </option>
              ))}
              <option value="all">all</option>
            </select>
          </div>
          <div class="field">
            <label for="filter-severity">Severity</label>
            <select id="filter-severity" value={filters.severity} onChange={(e) => set({ severity: (e.currentTarget as HTMLSelectElement).value })}>
              <option value="">any</option>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="filter-alert-site">Site</label>
            <select id="filter-alert-site" value={filters.site} onChange={(e) => set({ site: (e.currentTarget as HTMLSelectElement).value })}>
              <option value="">any</option>
              {sites.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
              {filters.site && !sites.includes(filters.site) && <option value={filters.site}>{filters.site}</option>}
            </select>
          </div>
          <RuleFilter key={filters.rule} value={filters.rule} onChange={(rule) => rule !== filters.rule && set({ rule })} />
        </div>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && <Loading />}
      {list.data && rows.length === 0 && <Empty>No alert matches.</Empty>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table class="alerts">
            <thead>
              <tr>
                <th scope="col">severity</th>
                <th scope="col">rule</th>
                <th scope="col">summary</th>
                <th scope="col">site / device</th>
                <th scope="col">status</th>
                <th scope="col">opened</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((alert) => (
                <tr key={alert.id} data-alert={alert.id}>
                  <td><Badge value={alert.severity} /></td>
                  <td class="nowrap"><a href={href('alerts', alert.id)}>{alert.rule}</a></td>
                  <td>{alert.summary}</td>
                  <td>
                    {alert.site ?? '—'}
                    {alert.deviceId && (
                      <>
                        {' / '}
                        <a href={href('devices', alert.deviceId)}>{alert.deviceId}</a>
                      </>
                    )}
                  </td>
                  <td>
                    <Badge value={alert.status} />
                    {alert.acknowledgedBy && <span class="muted small"> by {alert.acknowledgedBy}</span>}
                  </td>
                  <td><Time iso={alert.openedAt} /></td>
                  <td><AckButton alert={alert} onDone={() => void list.refresh()} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        {filters.page > 1 ? <a href={filtersHref({ ...filters, page: filters.page - 1 })} rel="prev">Previous</a> : <span class="muted">Previous</span>}
        <span aria-current="page">Page {count(filters.page)}</span>
        {hasNext ? <a href={filtersHref({ ...filters, page: filters.page + 1 })} rel="next">Next</a> : <span class="muted">Next</span>}
      </nav>
    </>
  );
}

export function AlertPage({ id }: { id: string }) {
  const alert = useResource<AlertDetail>(`/v1/alerts/${encodeURIComponent(id)}`);
  const a = alert.data;
  return (
    <>
      <h1 tabIndex={-1}>Alert {a ? a.rule : ''}</h1>
      <p><a href={href('alerts')}>All alerts</a></p>
      <ErrorNote error={alert.error} />
      {alert.loading && <Loading />}
      {a && (
        <div class="grid">
          <Panel title="Alert" actions={<AckButton alert={a} onDone={() => void alert.refresh()} />}>
            <p>{a.summary}</p>
            <KeyValues
              rows={[
                ['severity', <Badge value={a.severity} />],
                ['status', <Badge value={a.status} />],
                ['rule', a.rule],
                ['scope', a.scope],
                ['key', <code>{a.dedupeKey}</code>],
                ['tenant', a.tenant ?? 'several (fleet-wide)'],
                ['site', a.site ?? '—'],
                ['device', a.deviceId ? <a href={href('devices', a.deviceId)}>{a.deviceId}</a> : '—'],
                ['opened', dateTime(a.openedAt)],
                ['acknowledged', a.acknowledgedAt ? `${dateTime(a.acknowledgedAt)} by ${a.acknowledgedBy ?? '?'}` : '—'],
                ['in hold-down since', a.inHoldDownSince ? dateTime(a.inHoldDownSince) : '—'],
                ['resolved', dateTime(a.resolvedAt)],
              ]}
            />
          </Panel>
          <Panel title="Facts when it opened">
            <pre class="json">{JSON.stringify(a.details, null, 2)}</pre>
          </Panel>
          <Panel title="Webhook deliveries" wide>
            {a.deliveries.length === 0 ? (
              <Empty>This alert's rule sends no webhook.</Empty>
            ) : (
              a.deliveries.map((d) => (
                <div class="delivery" key={d.id}>
                  <h3>
                    {d.event} → <code>{d.target}</code> <Badge value={d.status} />
                  </h3>
                  <KeyValues
                    rows={[
                      ['attempts', count(d.attempts)],
                      ['next attempt', d.nextAttemptAt ? <Time iso={d.nextAttemptAt} /> : '—'],
                      ['last answer', d.lastStatusCode !== null ? String(d.lastStatusCode) : (d.lastError ?? '—')],
                      ['delivered', dateTime(d.deliveredAt)],
                    ]}
                  />
                  {d.history.length > 0 && (
                    <table class="compact">
                      <caption>Attempts</caption>
                      <thead>
                        <tr>
                          <th scope="col" class="num">#</th>
                          <th scope="col">at</th>
                          <th scope="col">answer</th>
                          <th scope="col" class="num">ms</th>
                        </tr>
                      </thead>
                      <tbody>
                        {d.history.map((h) => (
                          <tr key={h.attempt}>
                            <td class="num">{h.attempt}</td>
                            <td>{dateTime(h.at)}</td>
                            <td>{h.statusCode ?? jsonText(h.error)}</td>
                            <td class="num">{count(h.durationMs)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                </div>
              ))
            )}
          </Panel>
        </div>
      )}
    </>
  );
}
