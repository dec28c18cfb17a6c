// What is applied, what was refused, how the fleet and its rollouts are doing, what is on fire.
import { ApiError } from '../api.ts';
import { count, shortSha } from '../format.ts';
import { useResource } from '../poll.ts';
import { href } from '../router.ts';
import { api } from '../session.ts';
import type { Alert, FleetSummary, Readiness, Revision, RevisionList, Rollout, RolloutList } from '../types.ts';
import { Badge, Empty, ErrorNote, KeyValues, Loading, Panel, StackedBar, statusSegments, Time, tone, type Segment } from '../ui.tsx';
import { targetText, WaveBar } from './rollouts.tsx';

/** /readyz answers 503 with its checks when not ready: that is an answer, not an error. */
async function readiness(path: string): Promise<Readiness> {
  let response: Response;
  try {
    response = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'unreachable', 'the engine does not answer');
  }
  return (await response.json()) as Readiness;
}

/** Every rollout's detail, one request each. */
async function rolloutDetails(): Promise<Rollout[]> {
  const list = await api.get<RolloutList>('/v1/rollouts');
  return Promise.all(list.rollouts.map((r) => api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(r.name)}`)));
}

const ALERT_PAGE = 1000;

function firstLine(text: string | null): string {
  return (text ?? '').split('\n')[0] ?? '';
}

function TopCounts({ counts, param, caption }: { counts: Record<string, number>; param: 'site' | 'profile'; caption: string }) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return (
    <table class="compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{param}</th>
          <th scope="col" class="num">devices</th>
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, 8).map(([name, n]) => (
          <tr key={name}>
            <td><a href={href('devices', { [param]: name })}>{name}</a></td>
            <td class="num">{count(n)}</td>
          </tr>
        ))}
        {rows.length > 8 && (
          <tr>
            <td colSpan={2} class="muted">and {rows.length - 8} more</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function RevisionPanels() {
  const list = useResource<RevisionList>('/v1/revisions');
  const active = list.data?.revisions.find((r) => r.sha === list.data?.active) ?? null;
  const rejected = list.data?.revisions.find((r) => r.status === 'rejected') ?? null;
  const detail = useResource<Revision>(rejected ? `/v1/revisions/${rejected.sha}` : null, 0);
  return (
    <>
      <Panel title="Applied revision">
        <ErrorNote error={list.error} />
        {list.loading && <Loading />}
        {list.data && !active && <Empty>No revision applied yet: the engine is waiting for a valid commit.</Empty>}
        {active && (
          <KeyValues
            rows={[
              ['commit', <a href={href('revisions', active.sha)}><code>{shortSha(active.sha)}</code></a>],
              ['message', firstLine(active.message)],
              ['author', active.author],
              ['committed', <Time iso={active.committedAt} />],
              ['applied', <Time iso={active.appliedAt} />],
            ]}
          />
        )}
      </Panel>
      <Panel title="Last rejected revision">
        {list.data && !rejected && <Empty>No rejected revision.</Empty>}
        {rejected && (
          <>
            <KeyValues
              rows={[
                ['commit', <a href={href('revisions', rejected.sha)}><code>{shortSha(rejected.sha)}</code></a>],
                ['message', firstLine(rejected.message)],
                ['author', rejected.author],
                ['recorded', <Time iso={rejected.recordedAt} />],
              ]}
            />
            <ErrorNote error={detail.error} />
            {detail.data?.issues && (
              <ul class="issues">
                {detail.data.issues.slice(0, 5).map((issue, i) => (
                  <li key={i}>
                    <code>{`${issue.file}:${issue.line}:${issue.column}`}</code> <Badge value={issue.severity === 'error' ? 'rejected' : 'warning'} label={issue.severity} /> {issue.message}
                  </li>
                ))}
              </ul>
            )}
            {rejected.issueCount > 5 && <a href={href('revisions', rejected.sha)}>all {rejected.issueCount} issues</a>}
          </>
        )}
      </Panel>
    </>
  );
}

function EnginePanel() {
  const ready = useResource<Readiness>('/readyz', undefined, readiness);
  return (
    <Panel title="Engine">
      <ErrorNote error={ready.error} />
      {ready.data && (
        <KeyValues
          rows={[
            ['status', <Badge value={ready.data.status === 'ready' ? 'converged' : 'offline'} label={ready.data.status} />],
            ['database', ready.data.checks.database === true ? 'answers' : 'unreachable'],
            ['revision', typeof ready.data.checks.revision === 'string' ? <code>{shortSha(ready.data.checks.revision)}</code> : 'none applied'],
          ]}
        />
      )}
    </Panel>
  );
}

function DevicesPanel() {
  const summary = useResource<FleetSummary>('/v1/fleet/summary');
  const segments = summary.data ? statusSegments(summary.data.byStatus) : [];
  return (
    <Panel title="Devices" wide actions={<a href={href('devices')}>All devices</a>}>
      <ErrorNote error={summary.error} />
      {summary.loading && <Loading />}
      {summary.data && (
        <>
          <p class="figure">
            <strong>{count(summary.data.devices)}</strong> devices
          </p>
          <StackedBar label="Devices by status" segments={segments} total={summary.data.devices} />
          <ul class="legend">
            {segments
              .filter((s) => s.value > 0)
              .map((s) => (
                <li key={s.label}>
                  <span class={`swatch tone-${tone(s.label)}`} aria-hidden="true" />
                  <a href={href('devices', { status: s.label })}>{s.label}</a> <strong>{count(s.value)}</strong>
                </li>
              ))}
          </ul>
          <div class="columns">
            <TopCounts counts={summary.data.bySite} param="site" caption="By site" />
            <TopCounts counts={summary.data.byProfile} param="profile" caption="By profile" />
          </div>
        </>
      )}
    </Panel>
  );
}

function RolloutsPanel() {
  // The list (wave step counters) at once and often; each rollout's detail (members per wave by
  // status) less often: it reads every device the rollout governs — seconds at 100,000 devices, and
  // then the slow-answer back-off of useResource spaces it further.
  const list = useResource<RolloutList>('/v1/rollouts');
  const details = useResource<Rollout[]>('/v1/rollouts?detail', 30_000, rolloutDetails);
  const rollouts = { ...list, data: details.data ?? list.data?.rollouts ?? null };
  return (
    <Panel title="Rollouts" wide actions={<a href={href('rollouts')}>All rollouts</a>}>
      <ErrorNote error={rollouts.error} />
      {rollouts.loading && <Loading />}
      {rollouts.data && rollouts.data.length === 0 && <Empty>No rollout in the applied revision.</Empty>}
      {rollouts.data?.map((rollout) => (
        <div class="rollout-summary" key={rollout.name}>
          <h3>
            <a href={href('rollouts', rollout.name)}>{rollout.name}</a> <span class="muted">→ {targetText(rollout.target)}</span>{' '}
            {rollout.paused ? <Badge value="stopped" label="paused" /> : <Badge value="running" label={`wave ${rollout.activeWave}`} />}
          </h3>
          {rollout.paused && rollout.pausedReason && <p class="warn-text">{rollout.pausedReason}</p>}
          {rollout.waves.map((wave) => (
            <WaveBar key={wave.name} wave={wave} />
          ))}
        </div>
      ))}
    </Panel>
  );
}

function AlertsPanel() {
  const alerts = useResource<{ alerts: Alert[] }>(`/v1/alerts?status=active&limit=${ALERT_PAGE}`);
  const list = alerts.data?.alerts ?? [];
  const bySeverity = (severity: string): number => list.filter((a) => a.severity === severity).length;
  const segments: Segment[] = [
    { label: 'critical', value: bySeverity('critical') },
    { label: 'warning', value: bySeverity('warning') },
    { label: 'info', value: bySeverity('info') },
  ];
  const more = list.length >= ALERT_PAGE ? '+' : '';
  return (
    <Panel title="Active alerts" actions={<a href={href('alerts')}>All alerts</a>}>
      <ErrorNote error={alerts.error} />
      {alerts.loading && <Loading />}
      {alerts.data && (
        <>
          <p class="figure">
            <strong>
              {count(list.length)}
              {more}
            </strong>{' '}
            open or acknowledged
          </p>
          <ul class="severity-counts">
            {segments.map((s) => (
              <li key={s.label}>
                <a href={href('alerts', { status: 'active', severity: s.label })}>
                  <Badge value={s.label} /> <strong>{count(s.value)}{more && s.value > 0 ? more : ''}</strong>
                </a>
              </li>
            ))}
          </ul>
          {list.length === 0 && <Empty>Nothing open.</Empty>}
          {list.length > 0 && (
            <ul class="recent-alerts">
              {list.slice(0, 5).map((alert) => (
                <li key={alert.id}>
                  <Badge value={alert.severity} /> <a href={href('alerts', alert.id)}>{alert.rule}</a> <span class="muted">{alert.deviceId ?? alert.site ?? alert.dedupeKey}</span>{' '}
                  <Time iso={alert.openedAt} />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Panel>
  );
}

export function OverviewPage() {
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <div class="grid">
        <RevisionPanels />
        <div class="stack">
          <EnginePanel />
          <AlertsPanel />
        </div>
        <DevicesPanel />
        <RolloutsPanel />
      </div>
    </>
  );
}
