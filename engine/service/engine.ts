// The running engine, composed: the store, the revision follower, the check-in service, alerts,
// provisioning and the operator API services behind one EngineApi (each method delegates), the
// periodic jobs, and the Koa app that serves it. Built by main.ts (or a test) from plain options.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { CheckInAnswer, CheckInRequest } from '../model/index.ts';
import { createHttpApp, type BearerToken, type CommandRequest, type DeviceListQuery, type DeviceRegistration, type EngineApi, type OperatorTokenRequest, type PlanFormat } from '../http/index.ts';
import { FleetStore } from '../store/index.ts';
import { CheckInService, type CheckInObserver } from './checkin.ts';
import { AlertService } from './alerts.ts';
import { ProvisioningService } from './provisioning.ts';
import type { CarrierActivator } from '../provisioning/index.ts';
import type { CompileOptions } from './core.ts';
import { operatorAuthorizer, type Authorize } from './authorization.ts';
import { EngineMetrics } from './metrics.ts';
import type { OperatorContext } from './operator-context.ts';
import { OperatorDevices } from './operator-devices.ts';
import { OperatorRevisions } from './operator-revisions.ts';
import { OperatorRollouts } from './operator-rollouts.ts';
import { OperatorTokens, type AdminBootstrap } from './operator-tokens.ts';
import { OperatorOverview } from './operator-overview.ts';
import { RevisionFollower } from './revisions.ts';
import { RevisionPlanner, type RenderedPlan } from './revision-plan.ts';
import { expireSteps } from './step-expiry.ts';
import { startPeriodicJobs } from './timers.ts';

export interface EngineOptions extends AdminBootstrap {
  databaseUrl: string;
  repoDir: string;
  branch: string;
  log: Logger;
  compile?: CompileOptions;
  minCheckInIntervalMs?: number;
  pollIntervalMs?: number;
  leaseRetryMs?: number;
  watchRefs?: boolean;
  /** Offline sweep period (default 30 s; 0 disables). */
  offlineSweepMs?: number;
  now?: () => Date;
  random?: () => number;
  observers?: CheckInObserver[];
  poolSize?: number;
  /** Webhook worker period (default 1000 ms; 0: deliveries only when engine.alerts.deliverDueWebhooks is called). */
  webhookIntervalMs?: number;
  /** Webhook retry schedule (see nextDeliveryAttemptAt). */
  webhookBackoff?: { baseSeconds?: number; capSeconds?: number; maxAttempts?: number };
  /** Provisioning job workers (engine/service/provisioning.ts): count (default 4), lease, batch size, carrier. */
  provisioning?: { workers?: number; leaseMs?: number; batchSize?: number; pollMs?: number; carrier?: CarrierActivator | null };
}

export class Engine implements EngineApi {
  readonly metrics: EngineMetrics;
  readonly checkIns: CheckInService;
  readonly revisions: RevisionFollower;
  readonly alerts: AlertService;
  readonly provisioning: ProvisioningService;
  /** GET /v1/me and GET /v1/fleet/summary (the console's overview). */
  readonly overview: OperatorOverview;
  private readonly authorize: Authorize;
  private readonly operatorDevices: OperatorDevices;
  private readonly operatorRevisions: OperatorRevisions;
  private readonly operatorRollouts: OperatorRollouts;
  private readonly operatorTokens: OperatorTokens;
  private server: Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly now: () => Date;

  private constructor(
    readonly store: FleetStore,
    private readonly options: EngineOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.authorize = operatorAuthorizer(store.operatorTokens);
    this.revisions = new RevisionFollower({
      store,
      databaseUrl: options.databaseUrl,
      repoDir: options.repoDir,
      branch: options.branch,
      compile: options.compile ?? {},
      log: options.log,
      now: this.now,
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.leaseRetryMs !== undefined ? { leaseRetryMs: options.leaseRetryMs } : {}),
      ...(options.watchRefs !== undefined ? { watchRefs: options.watchRefs } : {}),
      onApplied: () => this.metrics.revisions.inc({ status: 'applied' }),
      onRejected: () => this.metrics.revisions.inc({ status: 'rejected' }),
    });
    this.alerts = new AlertService({
      store,
      revision: () => this.revisions.current,
      now: this.now,
      random: options.random ?? Math.random,
      log: options.log,
      authorize: this.authorize,
      ...(options.webhookIntervalMs !== undefined ? { webhookIntervalMs: options.webhookIntervalMs } : {}),
      ...(options.webhookBackoff ? { backoff: options.webhookBackoff } : {}),
    });
    this.checkIns = new CheckInService({
      store,
      revision: () => this.revisions.current,
      now: this.now,
      random: options.random ?? Math.random,
      log: options.log,
      minCheckInIntervalMs: options.minCheckInIntervalMs ?? 10_000,
      observers: [this.alerts.observeCheckIn, ...(options.observers ?? [])],
      cellTower: (cell) => this.alerts.cellTower(cell),
    });
    this.metrics = new EngineMetrics({
      devicesByStatus: () => store.devices.countByStatus(),
      stepsInFlight: () => store.rollouts.stepsInFlight(),
      appliedRevision: () => {
        const active = this.revisions.current;
        return active ? { sha: active.sha, appliedAt: active.appliedAt } : null;
      },
    });
    this.alerts.registerMetrics(this.metrics.registry);
    this.provisioning = new ProvisioningService({
      store,
      snapshot: () => this.revisions.current?.snapshot ?? null,
      authorize: this.authorize,
      log: options.log,
      ...options.provisioning,
    });
    const plans = new RevisionPlanner({
      repoDir: options.repoDir,
      store,
      log: options.log,
      ...(options.compile?.identity ? { identity: options.compile.identity } : {}),
    });
    const context: OperatorContext = { store, authorize: this.authorize, revision: () => this.revisions.current, now: this.now, log: options.log };
    this.operatorDevices = new OperatorDevices(context);
    this.operatorRevisions = new OperatorRevisions(context, plans);
    this.operatorRollouts = new OperatorRollouts(context, (rollout) => this.checkIns.rolloutRuntime(rollout));
    this.operatorTokens = new OperatorTokens(context);
    this.overview = new OperatorOverview(context);
  }

  /** Connects, migrates, bootstraps the admin token, resumes the last applied revision and starts following git. */
  static async start(options: EngineOptions): Promise<Engine> {
    const store = await FleetStore.open({ url: options.databaseUrl, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
    const engine = new Engine(store, options);
    try {
      await engine.operatorTokens.bootstrapAdmin(options);
      await engine.checkIns.refreshRolloutRuntimes();
      await engine.alerts.start();
      await engine.revisions.start();
      engine.provisioning.start();
      engine.timers = startPeriodicJobs({
        refreshRolloutRuntimes: () => engine.checkIns.refreshRolloutRuntimes(),
        isLeader: () => engine.revisions.isLeader,
        refreshActiveAlerts: () => engine.alerts.refreshActiveAlerts(),
        sweepAlerts: (now) => engine.alerts.sweep(now),
        expireSteps: (now) => engine.expireSteps(now),
        now: engine.now,
        log: options.log,
        ...(options.offlineSweepMs !== undefined ? { offlineSweepMs: options.offlineSweepMs } : {}),
      });
    } catch (error) {
      await engine.revisions.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw error;
    }
    return engine;
  }

  /** Serves HTTP; resolves with the bound port. */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const app = createHttpApp({ api: this, logger: this.options.log });
    const server = app.listen(port, host);
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    const server = this.server;
    this.server = null;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
    await this.provisioning.close();
    await this.alerts.close();
    await this.revisions.close();
    await this.store.close();
  }

  /**
   * Ends steps never reported back by their deadline (engine/service/step-expiry.ts); the leader runs it
   * each sweep period. Returns how many steps it ended.
   */
  expireSteps(now: Date): Promise<number> {
    return expireSteps({ store: this.store, revision: () => this.revisions.current, log: this.options.log }, now);
  }

  // ── device API ──────────────────────────────────────────────────────────

  async checkIn(deviceId: string, token: BearerToken, request: CheckInRequest): Promise<CheckInAnswer> {
    try {
      const answer = await this.checkIns.checkIn(deviceId, token, request);
      this.metrics.checkIns.inc({ outcome: 'answered' });
      return answer;
    } catch (error) {
      const status = (error as { status?: number }).status;
      this.metrics.checkIns.inc({ outcome: status === 429 ? 'throttled' : status !== undefined && status < 500 ? 'rejected' : 'failed' });
      throw error;
    }
  }

  // ── operator API (engine/service/operator-*.ts) ─────────────────────────

  registerDevice(token: BearerToken, registration: DeviceRegistration): Promise<object> {
    return this.operatorDevices.registerDevice(token, registration);
  }

  rotateDeviceToken(token: BearerToken, deviceId: string): Promise<object> {
    return this.operatorDevices.rotateDeviceToken(token, deviceId);
  }

  revokeDeviceToken(token: BearerToken, deviceId: string): Promise<void> {
    return this.operatorDevices.revokeDeviceToken(token, deviceId);
  }

  listDevices(token: BearerToken, query: DeviceListQuery): Promise<object> {
    return this.operatorDevices.listDevices(token, query);
  }

  getDevice(token: BearerToken, deviceId: string): Promise<object> {
    return this.operatorDevices.getDevice(token, deviceId);
  }

  queueCommand(token: BearerToken, deviceId: string, command: CommandRequest): Promise<object> {
    return this.operatorDevices.queueCommand(token, deviceId, command);
  }

  listCommands(token: BearerToken, deviceId: string): Promise<object> {
    return this.operatorDevices.listCommands(token, deviceId);
  }

  listRevisions(token: BearerToken): Promise<object> {
    return this.operatorRevisions.listRevisions(token);
  }

  getRevision(token: BearerToken, sha: string): Promise<object> {
    return this.operatorRevisions.getRevision(token, sha);
  }

  planRevision(token: BearerToken, sha: string, query: { base?: string; format?: PlanFormat }): Promise<RenderedPlan> {
    return this.operatorRevisions.planRevision(token, sha, query);
  }

  listRollouts(token: BearerToken): Promise<object> {
    return this.operatorRollouts.listRollouts(token);
  }

  getRollout(token: BearerToken, name: string): Promise<object> {
    return this.operatorRollouts.getRollout(token, name);
  }

  createOperatorToken(token: BearerToken, request: OperatorTokenRequest): Promise<object> {
    return this.operatorTokens.createOperatorToken(token, request);
  }

  // ── observability ───────────────────────────────────────────────────────

  async renderMetrics(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  async ready(): Promise<{ ready: boolean; checks: Record<string, boolean | string> }> {
    let database: boolean | string = true;
    try {
      await this.store.ping();
    } catch {
      database = false;
    }
    const revision = this.revisions.current?.sha ?? false;
    return { ready: database === true && revision !== false, checks: { database, revision } };
  }

  observeRequest(route: string, status: number, seconds: number): void {
    this.metrics.requestDuration.observe({ route, code: String(status) }, seconds);
  }
}
