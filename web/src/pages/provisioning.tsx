// Provisioning jobs: progress per stage, failed rows with their reasons, resume / retry failed / stop.
// The API has no job list yet (GET /v1/provisioning/jobs): a job is opened by its id (the CLI prints
// it), and the ids opened in this tab are remembered here; the list shows itself once the API has it.
import { useState } from 'preact/hooks';
import { ApiError, withQuery } from '../api.ts';
import { count, percent } from '../format.ts';
import { useCapability, useResource } from '../poll.ts';
import { href, navigate, route } from '../router.ts';
import { api, canWrite } from '../session.ts';
import type { ProvisioningJob } from '../types.ts';
import { Badge, Empty, ErrorNote, KeyValues, Legend, Loading, Panel, StackedBar, Time, type Segment } from '../ui.tsx';

const RECENT_KEY = 'fleetform.recent-jobs';
const FAILURES_PAGE = 50;
/** The stages of a row, in the order a worker runs them (docs/provisioning.md). */
const STAGES = ['validate', 'register', 'credentials', 'site', 'activate', 'ready'];

function recentJobs(): string[] {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(RECENT_KEY) ?? '[]') as unknown;
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string').slice(0, 20) : [];
  } catch {
    return [];
  }
}

function remember(id: string): void {
  try {
    sessionStorage.setItem(RECENT_KEY, JSON.stringify([id, ...recentJobs().filter((j) => j !== id)].slice(0, 20)));
  } catch {
    // storage unavailable: nothing remembered
  }
}

function OpenJob() {
  const [id, setId] = useState('');
  return (
    <form
      class="inline-form"
      aria-label="Open a provisioning job"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) navigate(href('provisioning', id.trim()));
      }}
    >
      <div class="field">
        <label for="job-id">Job id</label>
        <input id="job-id" required spellcheck={false} autocomplete="off" value={id} onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <button type="submit">Open</button>
    </form>
  );
}

function JobList() {
  const listed = useCapability('/v1/provisioning/jobs');
  const list = useResource<{ jobs?: ProvisioningJob[] }>(listed ? '/v1/provisioning/jobs' : null);
  if (!listed) return null;
  const jobs = list.data?.jobs ?? [];
  return (
    <Panel title="Jobs" wide>
      <ErrorNote error={list.error} />
      {list.data && jobs.length === 0 && <Empty>No provisioning job.</Empty>}
      {jobs.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">job</th>
                <th scope="col">status</th>
                <th scope="col">by</th>
                <th scope="col">created</th>
                <th scope="col" class="num">rows</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.id}>
                  <td><a href={href('provisioning', job.id)}>{job.id}</a></td>
                  <td><Badge value={job.status} /></td>
                  <td>{job.createdBy}</td>
                  <td><Time iso={job.createdAt} /></td>
                  <td class="num">{count(job.rows?.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

export function ProvisioningPage() {
  const recent = recentJobs();
  return (
    <>
      <h1 tabIndex={-1}>Provisioning jobs</h1>
      <div class="grid">
        <Panel title="Open a job" wide>
          <p class="muted small">
            <code>fleetform provision import</code> prints the job id.
          </p>
          <OpenJob />
          {recent.length > 0 && (
            <>
              <h3>Opened in this tab</h3>
              <ul>
                {recent.map((id) => (
                  <li key={id}>
                    <a href={href('provisioning', id)}>{id}</a>
                  </li>
                ))}
              </ul>
            </>
          )}
        </Panel>
        <JobList />
      </div>
    </>
  );
}

function JobAction({ label, path, onDone }: { label: string; path: string; onDone(): void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api.post(path);
      onDone();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={act} disabled={busy}>
        {label}
      </button>
      <ErrorNote error={error} />
    </>
  );
}

function stageSegments(states: Record<string, number>): Segment[] {
  const order = ['done', 'skipped', 'retrying', 'pending', 'failed'];
  const keys = [...order.filter((k) => k in states), ...Object.keys(states).filter((k) => !order.includes(k))];
  return keys.map((k) => ({ label: k, value: states[k] ?? 0, tone: k === 'skipped' ? 'muted' : undefined }) as Segment);
}

export function JobPage({ id }: { id: string }) {
  const page = Math.max(1, Number(route.value.query.get('failures') ?? '1') || 1);
  const path = withQuery(`/v1/provisioning/jobs/${encodeURIComponent(id)}`, { failuresLimit: FAILURES_PAGE, failuresOffset: (page - 1) * FAILURES_PAGE || undefined });
  const job = useResource<ProvisioningJob>(path, 3000);
  const j = job.data;
  if (j && !recentJobs().includes(j.id)) remember(j.id);
  const refresh = (): void => void job.refresh();
  const stages = j ? [...STAGES.filter((s) => s in j.tasks), ...Object.keys(j.tasks).filter((s) => !STAGES.includes(s))] : [];
  return (
    <>
      <h1 tabIndex={-1}>
        Provisioning job <span class="mono">{id}</span>
      </h1>
      <p><a href={href('provisioning')}>Provisioning jobs</a></p>
      <ErrorNote error={job.error} />
      {job.loading && <Loading />}
      {j && (
        <div class="grid">
          <Panel
            title="Job"
            actions={
              canWrite.value && (
                <div class="buttons">
                  {j.status === 'stopped' && <JobAction label="Resume" path={`/v1/provisioning/jobs/${encodeURIComponent(j.id)}/resume`} onDone={refresh} />}
                  {j.rows.failed > 0 && <JobAction label="Retry failed rows" path={`/v1/provisioning/jobs/${encodeURIComponent(j.id)}/retry-failed`} onDone={refresh} />}
                  {j.status === 'running' && <JobAction label="Stop" path={`/v1/provisioning/jobs/${encodeURIComponent(j.id)}/stop`} onDone={refresh} />}
                </div>
              )
            }
          >
            <KeyValues
              rows={[
                ['status', <Badge value={j.status} />],
                ['created by', j.createdBy],
                ['created', <Time iso={j.createdAt} />],
                ['completed', j.completedAt ? <Time iso={j.completedAt} /> : '—'],
                ['carrier', j.carrier ?? 'none (activation skipped)'],
                ['batches', `${count(j.batches.done)} done, ${count(j.batches.running)} running, ${count(j.batches.pending)} pending of ${count(j.batches.total)}`],
                ['credentials waiting', count(j.credentialsWaiting)],
              ]}
            />
          </Panel>
          <Panel title="Rows">
            <p class="figure">
              <strong>{percent(j.rows.done + j.rows.failed, j.rows.total)}</strong> finished
            </p>
            <StackedBar
              label="Rows"
              total={j.rows.total}
              segments={[
                { label: 'done', value: j.rows.done },
                { label: 'failed', value: j.rows.failed },
                { label: 'pending', value: j.rows.pending },
              ]}
            />
            <Legend segments={[{ label: 'done', value: j.rows.done }, { label: 'failed', value: j.rows.failed }, { label: 'pending', value: j.rows.pending }]} />
          </Panel>
          <Panel title="Stages" wide>
            {stages.length === 0 && <Empty>No task recorded yet.</Empty>}
            {stages.map((stage) => {
              const states = j.tasks[stage] ?? {};
              const segments = stageSegments(states);
              return (
                <div class="stage" key={stage}>
                  <div class="wave-head">
                    <strong>{stage}</strong>
                    <Legend segments={segments} />
                  </div>
                  <StackedBar label={`Stage ${stage}`} segments={segments} total={j.rows.total} />
                </div>
              );
            })}
          </Panel>
          <Panel title={`Failed rows (${count(j.rows.failed)})`} wide>
            {j.failures.length === 0 ? (
              <Empty>No failed row{page > 1 ? ' on this page' : ''}.</Empty>
            ) : (
              <div class="table-scroll">
                <table class="failures">
                  <thead>
                    <tr>
                      <th scope="col">log</th>
                      <th scope="col" class="num">row</th>
                      <th scope="col" class="num">line</th>
                      <th scope="col">device</th>
                      <th scope="col">stage</th>
                      <th scope="col">code</th>
                      <th scope="col">reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    {j.failures.map((f) => (
                      <tr key={`${f.log}-${f.row}`}>
                        <td>{f.log}</td>
                        <td class="num">{f.row}</td>
                        <td class="num">{f.line ?? '—'}</td>
                        <td>{f.deviceId ?? '—'}</td>
                        <td>{f.task ?? '—'}</td>
                        <td><code>{f.code}</code></td>
                        <td>{f.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <nav class="pager" aria-label="Failed rows pages">
              {page > 1 ? <a href={href('provisioning', j.id, { failures: page - 1 })}>Previous</a> : <span class="muted">Previous</span>}
              <span aria-current="page">Page {page}</span>
              {j.failures.length >= FAILURES_PAGE ? <a href={href('provisioning', j.id, { failures: page + 1 })}>Next</a> : <span class="muted">Next</span>}
            </nav>
          </Panel>
        </div>
      )}
    </>
  );
}
