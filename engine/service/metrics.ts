// Prometheus metrics of one engine instance (its own registry: two engines may share a process in tests).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricSources {
  devicesByStatus(): Promise<Map<string, number>>;
  stepsInFlight(): Promise<Map<string, number>>;
  appliedRevision(): { sha: string; appliedAt: Date } | null;
}

export class EngineMetrics {
  readonly registry = new Registry();
  readonly checkIns: Counter<'outcome'>;
  readonly requestDuration: Histogram<'route' | 'code'>;
  readonly revisions: Counter<'status'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.checkIns = new Counter({
      name: 'fleetform_check_ins_total',
      help: 'Device check-ins by outcome (answered, rejected, throttled, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'fleetform_http_request_duration_seconds',
      help: 'HTTP request latency by route and status code',
      labelNames: ['route', 'code'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.revisions = new Counter({
      name: 'fleetform_revisions_total',
      help: 'Revisions recorded by this process, by status',
      labelNames: ['status'],
      registers,
    });
    new Gauge({
      name: 'fleetform_devices',
      help: 'Registered devices by status',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        for (const [status, n] of await sources.devicesByStatus()) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'fleetform_firmware_steps_in_flight',
      help: 'Firmware steps handed out and not yet reported, by rollout',
      labelNames: ['rollout'],
      registers,
      async collect() {
        this.reset();
        for (const [rollout, n] of await sources.stepsInFlight()) this.set({ rollout }, n);
      },
    });
    new Gauge({
      name: 'fleetform_revision_applied',
      help: 'The applied revision (value: when it was applied, unix seconds)',
      labelNames: ['revision'],
      registers,
      collect() {
        this.reset();
        const applied = sources.appliedRevision();
        if (applied) this.set({ revision: applied.sha }, applied.appliedAt.getTime() / 1000);
      },
    });
  }
}
