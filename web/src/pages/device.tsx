// One device: desired vs reported, drift, firmware per component and the step in flight, step
// history, last location (a vector sketch: no map tiles, the engine may have no internet), commands.
import { useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import { count, dateTime, firmwareText, jsonText, metres, shortSha } from '../format.ts';
import { useCapability, useResource } from '../poll.ts';
import { href } from '../router.ts';
import { api, canWrite } from '../session.ts';
import type { Command, DeviceDetail, Location } from '../types.ts';
import { Badge, Empty, ErrorNote, KeyValues, Loading, Panel, Time } from '../ui.tsx';
import { ReleaseButton } from './rollouts.tsx';

const COMMAND_SUGGESTIONS = ['ping', 'locate', 'reboot', 'lock-movement', 'enable-theft-recovery'];

function Same({ desired, reported }: { desired: string | null; reported: string | null }) {
  if (desired === null) return <span class="muted">nothing desired yet</span>;
  return desired === reported ? <Badge value="converged" label="in sync" /> : <Badge value="drifted" label="differs" />;
}

function DesiredVsReported({ device }: { device: DeviceDetail }) {
  return (
    <Panel title="Desired vs reported" wide>
      <p>
        Config {device.drift.config ? <Badge value="drifted" label="drifted" /> : <Badge value="converged" label="in sync" />} Firmware{' '}
        {device.drift.firmware ? <Badge value="drifted" label="drifted" /> : <Badge value="converged" label="in sync" />}
      </p>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col" />
              <th scope="col">desired</th>
              <th scope="col">reported</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">revision</th>
              <td><code>{shortSha(device.desired.revision)}</code></td>
              <td><code>{shortSha(device.reported.revision)}</code></td>
              <td><Same desired={device.desired.revision} reported={device.reported.revision} /></td>
            </tr>
            <tr>
              <th scope="row">config hash</th>
              <td><code class="hash">{device.desired.configHash ?? '—'}</code></td>
              <td><code class="hash">{device.reported.configHash ?? '—'}</code></td>
              <td><Same desired={device.desired.configHash} reported={device.reported.configHash} /></td>
            </tr>
            <tr>
              <th scope="row">firmware rollout</th>
              <td>{device.desired.rollout ? <a href={href('rollouts', device.desired.rollout)}>{device.desired.rollout}</a> : '—'}</td>
              <td>{firmwareText(device.reported.firmware)}</td>
              <td />
            </tr>
          </tbody>
        </table>
      </div>
      <p class="muted small">The config itself is not shown: it may hold secrets. Its hash is what the device echoes back.</p>
    </Panel>
  );
}

function Firmware({ device, refresh }: { device: DeviceDetail; refresh(): void }) {
  const fw = device.firmware;
  const components = Object.entries(device.reported.firmware ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Panel title="Firmware">
      <p>
        Phase <Badge value={fw.phase} />
        {fw.phase === 'quarantined' && <ReleaseButton deviceId={device.id} onDone={refresh} />}
      </p>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">component</th>
              <th scope="col">reported</th>
              <th scope="col">step in flight</th>
            </tr>
          </thead>
          <tbody>
            {components.map(([component, version]) => (
              <tr key={component}>
                <th scope="row">{component}</th>
                <td>{version}</td>
                <td>{fw.step?.component === component ? `${fw.step.from} → ${fw.step.to}` : ''}</td>
              </tr>
            ))}
            {components.length === 0 && (
              <tr>
                <td colSpan={3} class="muted">Nothing reported yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <KeyValues
        rows={[
          ['retry cycle', count(fw.cycle)],
          ['failures in cycle', count(fw.failuresInCycle)],
          ['next attempt', fw.nextAttemptAt ? <Time iso={fw.nextAttemptAt} /> : '—'],
          ['last error', fw.lastError ?? '—'],
        ]}
      />
    </Panel>
  );
}

function StepHistory({ device }: { device: DeviceDetail }) {
  const history = device.firmware.history;
  return (
    <Panel title="Step history" wide>
      {history.length === 0 ? (
        <Empty>No firmware step yet.</Empty>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">event</th>
                <th scope="col">rollout / wave</th>
                <th scope="col">component</th>
                <th scope="col">cell</th>
                <th scope="col">error</th>
              </tr>
            </thead>
            <tbody>
              {history.map((event, i) => (
                <tr key={`${event.stepId ?? ''}-${event.type}-${i}`}>
                  <td><time dateTime={event.at ?? ''}>{dateTime(event.at)}</time></td>
                  <td><Badge value={event.type.includes('fail') || event.type.includes('timed-out') || event.type === 'quarantined' ? 'failed' : event.type.includes('succeeded') ? 'succeeded' : 'queued'} label={event.type} /></td>
                  <td>{[event.rollout, event.wave].filter(Boolean).join(' / ') || '—'}</td>
                  <td>{event.component ? `${event.component} ${event.from ?? '?'} → ${event.to ?? '?'}` : '—'}</td>
                  <td>{event.cell ? <code>{event.cell}</code> : '—'}</td>
                  <td>{event.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

/** A round length for the scale bar: 1, 2 or 5 × 10^n metres. */
function niceLength(maxMetres: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(maxMetres, 1)));
  for (const step of [5, 2, 1]) if (step * power <= maxMetres) return step * power;
  return power;
}

/** The position and its accuracy circle, drawn to scale around the point, with a scale bar and north. */
export function LocationSketch({ location }: { location: Location }) {
  if (location.lat === undefined || location.lon === undefined) return null;
  const size = 220;
  const centre = size / 2;
  const accuracy = location.accuracyM ?? 0;
  // The accuracy circle takes about a third of the sketch; no accuracy: 100 m across the sketch.
  const metresPerPixel = accuracy > 0 ? accuracy / 70 : 100 / size;
  const radius = accuracy / metresPerPixel;
  const bar = niceLength(80 * metresPerPixel);
  const barPixels = bar / metresPerPixel;
  const description = `Position ${location.lat.toFixed(5)}, ${location.lon.toFixed(5)} from ${location.source}${accuracy > 0 ? `, accurate to ${metres(accuracy)}` : ''}`;
  return (
    <svg class="sketch" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={description}>
      <title>{description}</title>
      <rect class="sketch-ground" x="0" y="0" width={size} height={size} rx="6" />
      <line class="sketch-grid" x1={centre} y1="8" x2={centre} y2={size - 8} />
      <line class="sketch-grid" x1="8" y1={centre} x2={size - 8} y2={centre} />
      {radius > 0 && <circle class={`sketch-accuracy source-${location.source}`} cx={centre} cy={centre} r={radius} />}
      <circle class="sketch-point" cx={centre} cy={centre} r="4" />
      <text class="sketch-text" x={size - 16} y="22" text-anchor="middle">N</text>
      <path class="sketch-north" d={`M ${size - 16} 26 l -5 12 l 5 -3 l 5 3 z`} />
      <line class="sketch-scale" x1="12" y1={size - 14} x2={12 + barPixels} y2={size - 14} />
      <text class="sketch-text" x="12" y={size - 20}>{metres(bar)}</text>
    </svg>
  );
}

function LocationPanel({ device }: { device: DeviceDetail }) {
  const location = device.lastLocation;
  const cell = device.lastCell;
  return (
    <Panel title="Last location">
      {!location || location.source === 'unknown' || location.lat === undefined ? (
        <Empty>No position resolved{location ? ` (source: ${location.source})` : ''}.</Empty>
      ) : (
        <div class="location">
          <KeyValues
            rows={[
              ['source', <Badge value="info" label={location.source} />],
              ['latitude', location.lat?.toFixed(6)],
              ['longitude', location.lon?.toFixed(6)],
              ['accuracy', location.accuracyM !== undefined ? `± ${metres(location.accuracyM)}` : '—'],
            ]}
          />
          <LocationSketch location={location} />
        </div>
      )}
      <KeyValues rows={[['serving cell (mcc-mnc-lac-cid)', cell ? <code>{cell}</code> : '—']]} />
    </Panel>
  );
}

function SendCommand({ deviceId, onSent }: { deviceId: string; onSent(): void }) {
  const [type, setType] = useState('');
  const [params, setParams] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(null);
    setSent(null);
    let parsed: unknown;
    if (params.trim() !== '') {
      try {
        parsed = JSON.parse(params);
      } catch {
        setError(new ApiError(400, 'invalid-json', 'Parameters must be a JSON object, e.g. {"locked": true}', '/params'));
        return;
      }
    }
    try {
      const command = await api.post<Command>(`/v1/devices/${encodeURIComponent(deviceId)}/commands`, { type: type.trim(), ...(parsed !== undefined ? { params: parsed } : {}) });
      setSent(`Queued ${command.type}: delivered at the device's next check-in.`);
      setType('');
      setParams('');
      onSent();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    }
  };
  return (
    <form class="command-form" onSubmit={submit} aria-label="Send a command">
      <div class="field">
        <label for="command-type">Command</label>
        <input id="command-type" list="command-types" required pattern="[a-z][a-z0-9\-]{0,63}" value={type} onInput={(e) => setType((e.currentTarget as HTMLInputElement).value)} />
        <datalist id="command-types">
          {COMMAND_SUGGESTIONS.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      </div>
      <div class="field grow">
        <label for="command-params">Parameters (JSON, optional)</label>
        <input id="command-params" value={params} spellcheck={false} placeholder='{"locked": true}' onInput={(e) => setParams((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <button type="submit">Send</button>
      <ErrorNote error={error} />
      {sent && <p role="status" class="ok-text">{sent}</p>}
    </form>
  );
}

function Commands({ device, refresh }: { device: DeviceDetail; refresh(): void }) {
  return (
    <Panel title="Commands" wide>
      {canWrite.value && <SendCommand deviceId={device.id} onSent={refresh} />}
      {device.commands.length === 0 ? (
        <Empty>No command sent to this device.</Empty>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">command</th>
                <th scope="col">parameters</th>
                <th scope="col">status</th>
                <th scope="col">by</th>
                <th scope="col">queued</th>
                <th scope="col">delivered</th>
                <th scope="col">completed</th>
                <th scope="col">output</th>
              </tr>
            </thead>
            <tbody>
              {device.commands.map((c) => (
                <tr key={c.id}>
                  <td>{c.type}</td>
                  <td><code>{jsonText(c.params)}</code></td>
                  <td><Badge value={c.status} /></td>
                  <td>{c.createdBy ?? '—'}</td>
                  <td><Time iso={c.createdAt} /></td>
                  <td><Time iso={c.deliveredAt} /></td>
                  <td><Time iso={c.completedAt} /></td>
                  <td><code>{jsonText(c.output)}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

/** The first list in an answer, as rows of its plain fields. */
function rowsOf(answer: unknown): Record<string, unknown>[] {
  if (!answer || typeof answer !== 'object') return [];
  const list = Array.isArray(answer) ? answer : Object.values(answer).find(Array.isArray);
  return (list ?? []).filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
}

/**
 * A panel for an API being added (telemetry history, check-ins, logs): it asks the engine whether the
 * route exists and shows nothing until it does; then the newest rows it answers, field by field.
 */
function OptionalPanel({ title, path, probe }: { title: string; path: string; probe: string }) {
  const available = useCapability(probe);
  const answer = useResource<unknown>(available ? path : null, 15_000);
  if (!available) return null;
  const rows = rowsOf(answer.data).slice(0, 20);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, 8);
  return (
    <Panel title={title} wide>
      <ErrorNote error={answer.error} />
      {answer.data !== null && rows.length === 0 && <Empty>Nothing recorded.</Empty>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table class="compact">
            <thead>
              <tr>{columns.map((c) => <th scope="col" key={c}>{c}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={i}>{columns.map((c) => <td key={c}>{jsonText(row[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

export function DevicePage({ id }: { id: string }) {
  const path = `/v1/devices/${encodeURIComponent(id)}`;
  const device = useResource<DeviceDetail>(path);
  const refresh = (): void => void device.refresh();
  const d = device.data;
  return (
    <>
      <h1 tabIndex={-1}>
        Device <span class="mono">{id}</span>
      </h1>
      <p><a href={href('devices')}>All devices</a></p>
      <ErrorNote error={device.error} />
      {device.loading && <Loading />}
      {d && (
        <div class="grid">
          <Panel title="Device">
            <KeyValues
              rows={[
                ['status', <Badge value={d.status} />],
                ['tenant', d.tenant],
                ['site', <a href={href('devices', { site: d.site })}>{d.site}</a>],
                ['profile', <a href={href('devices', { profile: d.profile })}>{d.profile}</a>],
                ['labels', Object.entries(d.labels ?? {}).map(([k, v]) => <span class="label" key={k}>{k}={v}</span>)],
                ['registered', <Time iso={d.registeredAt} />],
                ['last check-in', <Time iso={d.lastCheckInAt} />],
                ['next expected', <Time iso={d.nextExpectedAt} />],
                ['device token', d.tokenRevoked ? <Badge value="failed" label="revoked" /> : 'active'],
              ]}
            />
          </Panel>
          <Firmware device={d} refresh={refresh} />
          <LocationPanel device={d} />
          <DesiredVsReported device={d} />
          <StepHistory device={d} />
          <Commands device={d} refresh={refresh} />
          <OptionalPanel title="Telemetry" path={`${path}/telemetry`} probe="/v1/devices/_/telemetry" />
          <OptionalPanel title="Check-ins" path={`${path}/check-ins`} probe="/v1/devices/_/check-ins" />
          <OptionalPanel title="Logs" path={`${path}/logs`} probe="/v1/devices/_/logs" />
        </div>
      )}
    </>
  );
}
