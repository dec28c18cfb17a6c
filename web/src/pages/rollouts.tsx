// Rollouts: waves with members, eligible, in flight, succeeded, failed; paused and why; throttle use
// in total and per cell tower; quarantined devices (with a release button once the API has one).
import { useState } from 'preact/hooks';
import { ApiError, withQuery } from '../api.ts';
import { count, percent } from '../format.ts';
import { useCapability, useResource } from '../poll.ts';
import { href } from '../router.ts';
import { api, canWrite } from '../session.ts';
import type { DeviceSummary, Rollout, RolloutList, Wave } from '../types.ts';
import { Badge, Empty, ErrorNote, Legend, Loading, Meter, Panel, StackedBar, statusSegments, Time } from '../ui.tsx';

export function targetText(target: Record<string, unknown>): string {
  if (typeof target.bundle === 'string') return target.bundle;
  const components = (target.components ?? target) as Record<string, unknown>;
  return Object.entries(components)
    .map(([component, version]) => `${component} ${typeof version === 'string' ? version : JSON.stringify(version)}`)
    .join(', ');
}

/** One wave: members by status when the detail view gave them, else the steps that ended. */
export function WaveBar({ wave }: { wave: Wave }) {
  const steps = wave.succeeded + wave.failed;
  return (
    <div class="wave">
      <div class="wave-head">
        <strong>{wave.name}</strong> <span class="muted">{wave.percent} %</span> {wave.open ? <Badge value="running" label="open" /> : <Badge value="pending" label="not open" />}
        <span class="wave-figures">
          {wave.devices !== undefined && <>{count(wave.devices)} devices · </>}
          {count(wave.succeeded)} steps succeeded · {count(wave.failed)} failed
          {steps > 0 && wave.maxFailureRatio !== null && <> · failure {percent(wave.failed, steps)} (pauses above {percent(wave.maxFailureRatio, 1)})</>}
        </span>
      </div>
      {wave.byStatus ? (
        <StackedBar label={`Wave ${wave.name}, devices by status`} segments={statusSegments(wave.byStatus)} total={wave.devices ?? 0} />
      ) : (
        <StackedBar label={`Wave ${wave.name}, steps`} segments={[{ label: 'succeeded', value: wave.succeeded }, { label: 'failed', value: wave.failed }]} />
      )}
    </div>
  );
}

function failureRatio(wave: Wave): string {
  const steps = wave.succeeded + wave.failed;
  return steps === 0 ? '—' : percent(wave.failed, steps);
}

function RolloutCard({ rollout }: { rollout: Rollout }) {
  const cells = Object.entries(rollout.inFlightPerCell ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const perCell = rollout.throttle.maxInFlightPerCell;
  const byStatus = rollout.devices ?? {};
  const governed = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return (
    <Panel
      title={rollout.name}
      wide
      actions={rollout.paused ? <Badge value="stopped" label="paused" /> : <Badge value="running" label={`wave ${rollout.activeWave} open`} />}
    >
      <p>
        Target <strong>{targetText(rollout.target)}</strong>, active wave <strong>{rollout.activeWave}</strong>.
        {rollout.paused && rollout.pausedReason && (
          <span class="warn-text" role="status">
            {' '}
            Paused: {rollout.pausedReason}
          </span>
        )}
      </p>
      <div class="columns">
        <div>
          <h3>Steps in flight</h3>
          <Meter label="Steps in flight, total" value={rollout.inFlight} max={rollout.throttle.maxInFlight} />
        </div>
        <div>
          <h3>Devices following it</h3>
          <p class="figure">
            <strong>{count(governed)}</strong> devices
          </p>
          <StackedBar label={`${rollout.name}: devices by status`} segments={statusSegments(byStatus)} total={governed} />
          <Legend segments={statusSegments(byStatus)} />
        </div>
      </div>
      <div class="table-scroll">
        <table>
          <caption>Waves</caption>
          <thead>
            <tr>
              <th scope="col">wave</th>
              <th scope="col" class="num">percent</th>
              <th scope="col">open</th>
              <th scope="col" class="num">members</th>
              <th scope="col" class="num">eligible</th>
              <th scope="col" class="num">in flight</th>
              <th scope="col" class="num">succeeded</th>
              <th scope="col" class="num">failed</th>
              <th scope="col" class="num">failure ratio</th>
              <th scope="col" class="num">pauses above</th>
            </tr>
          </thead>
          <tbody>
            {rollout.waves.map((wave) => (
              <tr key={wave.name} data-wave={wave.name}>
                <th scope="row">{wave.name}</th>
                <td class="num">{wave.percent} %</td>
                <td>{wave.open ? 'yes' : 'no'}</td>
                <td class="num">{count(wave.devices)}</td>
                <td class="num">{count(wave.eligible)}</td>
                <td class="num">{count(wave.inFlight)}</td>
                <td class="num" data-count="succeeded">{count(wave.succeeded)}</td>
                <td class="num" data-count="failed">{count(wave.failed)}</td>
                <td class="num">{failureRatio(wave)}</td>
                <td class="num">{wave.maxFailureRatio === null ? '—' : percent(wave.maxFailureRatio, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rollout.waves.map((wave) => (
        <WaveBar key={wave.name} wave={wave} />
      ))}
      <h3>Throttle per cell tower</h3>
      {cells.length === 0 ? (
        <Empty>No step in flight on any cell.</Empty>
      ) : (
        <div class="table-scroll">
          <table class="compact">
            <thead>
              <tr>
                <th scope="col">cell (mcc-mnc-lac-cid)</th>
                <th scope="col">in flight / limit</th>
              </tr>
            </thead>
            <tbody>
              {cells.slice(0, 20).map(([cell, n]) => (
                <tr key={cell}>
                  <td><code class="cell">{cell}</code></td>
                  <td><Meter label={`Cell ${cell}: steps in flight`} value={n} max={perCell} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {cells.length > 20 && <p class="muted">and {cells.length - 20} more cells</p>}
        </div>
      )}
      {(byStatus.quarantined ?? 0) > 0 && (
        <p>
          <a href={href('devices', { status: 'quarantined' })}>{count(byStatus.quarantined)} quarantined</a> — they get no further step until released.
        </p>
      )}
    </Panel>
  );
}

/** The release control, shown only when the engine has the route (POST /v1/devices/{id}/firmware/release). */
export function ReleaseButton({ deviceId, onDone }: { deviceId: string; onDone(): void }) {
  const available = useCapability('/v1/devices/_/firmware/release', 'POST');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  if (!available || !canWrite.value) return null;
  const release = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/v1/devices/${encodeURIComponent(deviceId)}/firmware/release`);
      onDone();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="small" onClick={release} disabled={busy} aria-label={`Release ${deviceId} from quarantine`}>
        Release
      </button>
      <ErrorNote error={error} />
    </>
  );
}

function QuarantinedDevices() {
  const list = useResource<{ devices: DeviceSummary[] }>(withQuery('/v1/devices', { status: 'quarantined', limit: 50 }));
  const devices = list.data?.devices ?? [];
  return (
    <Panel title="Quarantined devices" wide actions={<a href={href('devices', { status: 'quarantined' })}>In the device list</a>}>
      <ErrorNote error={list.error} />
      {list.loading && <Loading />}
      {list.data && devices.length === 0 && <Empty>No device is quarantined.</Empty>}
      {devices.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">device</th>
                <th scope="col">site</th>
                <th scope="col">last check-in</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {devices.map((device) => (
                <tr key={device.id}>
                  <td><a href={href('devices', device.id)}>{device.id}</a></td>
                  <td>{device.site}</td>
                  <td><Time iso={device.lastCheckInAt} /></td>
                  <td><ReleaseButton deviceId={device.id} onDone={() => void list.refresh()} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {devices.length >= 50 && <p class="muted">The first 50; the device list has them all.</p>}
        </div>
      )}
    </Panel>
  );
}

async function allRollouts(path: string): Promise<Rollout[]> {
  const list = await api.get<RolloutList>(path);
  return Promise.all(list.rollouts.map((r) => api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(r.name)}`)));
}

export function RolloutsPage({ name }: { name?: string | undefined }) {
  const all = useResource<Rollout[]>(name ? null : '/v1/rollouts', undefined, allRollouts);
  const one = useResource<Rollout>(name ? `/v1/rollouts/${encodeURIComponent(name)}` : null);
  const rollouts = name ? (one.data ? [one.data] : null) : all.data;
  const error = name ? one.error : all.error;
  return (
    <>
      <h1 tabIndex={-1}>{name ? `Rollout ${name}` : 'Rollouts'}</h1>
      {name && <p><a href={href('rollouts')}>All rollouts</a></p>}
      <ErrorNote error={error} />
      {(name ? one.loading : all.loading) && <Loading />}
      {rollouts && rollouts.length === 0 && <Empty>No rollout in the applied revision.</Empty>}
      <div class="grid">
        {rollouts?.map((rollout) => <RolloutCard key={rollout.name} rollout={rollout} />)}
        <QuarantinedDevices />
      </div>
    </>
  );
}
