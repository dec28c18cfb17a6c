// The running engine: the store, the revision follower, the check-in service and the operator
// API behind one EngineApi, served by the Koa app. Built by main.ts (or a test) from plain options.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  INITIAL_FIRMWARE_STATE,
  type CheckInAnswer,
  type CheckInRequest,
  type JsonObject,
} from '../model/index.ts';
import { createHttpApp, type BearerToken, type CommandRequest, type DeviceListQuery, type DeviceRegistration, type EngineApi, type OperatorTokenRequest, type PlanFormat } from '../http/index.ts';
import { FleetStore, type DeviceRow, type OperatorRole, type OperatorTokenRow, type RevisionRow } from '../store/index.ts';
import { rolloutForDevice } from '../reconcile/index.ts';
import { applyFirmwareEvent, deviceWave, isStepTimedOut, rolloutCampaign, waveOfDevice } from '../firmware/index.ts';
import { CheckInService, type CheckInObserver } from './checkin.ts';
import { AlertService } from './alerts.ts';
import { ProvisioningService } from './provisioning.ts';
import type { CarrierActivator } from '../provisioning/index.ts';
import type { CompileOptions } from './core.ts';
import { ForbiddenError, InvalidRequestError, NoRevisionError, NotFoundError, UnauthorizedError } from './errors.ts';
import { EngineMetrics } from './metrics.ts';
import { RevisionFollower, type ActiveRevision } from './revisions.ts';
import { RevisionPlanner, type RenderedPlan } from './revision-plan.ts';
import { generateToken, hashToken } from './tokens.ts';

export interface EngineOptions {
  databaseUrl: string;
  repoDir: string;
  branch: string;
  log: Logger;
  compile?: CompileOptions;
  /** Admin token to ensure exists (FLEETFORM_ADMIN_TOKEN). */
  adminToken?: string;
  /** Called once with a generated admin token when the database has no admin yet and none was given. */
  onAdminTokenGenerated?(token: string): Promise<void> | void;
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

const ROLE_RANK: Record<OperatorRole, number> = { viewer: 0, operator: 1, admin: 2 };
const ALL_TENANTS = '*';

interface Principal {
  id: string;
  name: string;
  role: OperatorRole;
  /** null: every tenant. */
  tenants: readonly string[] | null;
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function revisionView(row: RevisionRow, withIssues: boolean): object {
  return {
    sha: row.sha,
    status: row.status,
    author: row.author,
    message: row.message,
    committedAt: iso(row.committedAt),
    recordedAt: iso(row.recordedAt),
    appliedAt: iso(row.appliedAt),
    issueCount: row.issues.length,
    ...(withIssues ? { issues: row.issues } : {}),
  };
}

/** A device as operators see it: never its token hash. */
function deviceSummary(row: DeviceRow): object {
  return {
    id: row.id,
    tenant: row.tenant,
    profile: row.profile,
    site: row.site,
    labels: row.labels,
    status: row.status,
    registeredAt: iso(row.registeredAt),
    lastCheckInAt: iso(row.lastCheckInAt),
    nextExpectedAt: iso(row.nextExpectedAt),
    tokenRevoked: row.tokenRevokedAt !== null,
    reported: { firmware: row.reportedFirmware, configHash: row.reportedConfigHash },
  };
}

export class Engine implements EngineApi {
  readonly metrics: EngineMetrics;
  readonly checkIns: CheckInService;
  readonly revisions: RevisionFollower;
  readonly alerts: AlertService;
  readonly provisioning: ProvisioningService;
  private readonly plans: RevisionPlanner;
  private server: Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly now: () => Date;

  private constructor(
    readonly store: FleetStore,
    private readonly options: EngineOptions,
  ) {
    this.now = options.now ?? (() => new Date());
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
      authorize: (token, role) => this.authorize(token, role),
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
      authorize: (token, role) => this.authorize(token, role),
      log: options.log,
      ...options.provisioning,
    });
    this.plans = new RevisionPlanner({
      repoDir: options.repoDir,
      store,
      log: options.log,
      ...(options.compile?.identity ? { identity: options.compile.identity } : {}),
    });
  }

  /** Connects, migrates, bootstraps the admin token, resumes the last applied revision and starts following git. */
  static async start(options: EngineOptions): Promise<Engine> {
    const store = await FleetStore.open({ url: options.databaseUrl, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
    const engine = new Engine(store, options);
    try {
      await engine.bootstrapAdmin();
      await engine.checkIns.refreshRolloutRuntimes();
      await engine.alerts.start();
      await engine.revisions.start();
      engine.provisioning.start();
      const refresh = setInterval(() => void engine.checkIns.refreshRolloutRuntimes().catch(() => undefined), 2000);
      engine.timers.push(refresh);
      const sweepMs = options.offlineSweepMs ?? 30_000;
      if (sweepMs > 0) {
        engine.timers.push(
          setInterval(() => {
            // Every engine refreshes its alert cache; one (the leader) sweeps: offline index, fleet rules, hold-downs.
            if (!engine.revisions.isLeader) {
              engine.alerts.refreshActiveAlerts().catch((error: unknown) => options.log.warn({ err: error }, 'alert refresh failed'));
              return;
            }
            engine.alerts.sweep(engine.now()).catch((error: unknown) => options.log.warn({ err: error }, 'offline sweep failed'));
            engine.expireSteps(engine.now()).catch((error: unknown) => options.log.warn({ err: error }, 'step timeout sweep failed'));
          }, sweepMs),
        );
      }
      for (const timer of engine.timers) timer.unref();
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

  private async bootstrapAdmin(): Promise<void> {
    const given = this.options.adminToken;
    if (given) {
      const hash = hashToken(given);
      if (!(await this.store.operatorTokens.hasHash(hash))) {
        await this.store.operatorTokens.create({ name: 'bootstrap-admin', tokenHash: hash, role: 'admin', tenants: [ALL_TENANTS] });
      }
      return;
    }
    if (await this.store.operatorTokens.hasAdmin()) return;
    const token = generateToken('ffo');
    await this.store.operatorTokens.create({ name: 'bootstrap-admin', tokenHash: hashToken(token), role: 'admin', tenants: [ALL_TENANTS] });
    await this.options.onAdminTokenGenerated?.(token);
  }

  /**
   * Ends steps never reported back by their deadline (the rollout's stepTimeoutSeconds), so a device gone dark
   * does not hold its throttle slots for ever: the failure policy advances as if the device had
   * checked in late, the slots are released, the wave counts a failure. Run by the git follower.
   * Returns how many steps it ended.
   */
  async expireSteps(now: Date): Promise<number> {
    const active = this.revisions.current;
    if (!active) return 0;
    let expired = 0;
    const declared = new Map(active.snapshot.rollouts.map((rollout) => [rollout.metadata.name, rollout]));
    // A rollout removed from git may still have steps out: they end under the default timeout and
    // failure policy (as a late check-in would), or their slots would be held for ever.
    const names = new Set([...declared.keys(), ...(await this.store.rollouts.stepsInFlight()).keys()]);
    for (const name of [...names].sort()) {
      const rollout = declared.get(name);
      // Steps in flight are few (bounded by the throttles); the deadline rule is the firmware module's.
      for (const device of await this.store.rollouts.findExpiredSteps(name, now.getTime())) {
        const step = device.firmwareState.step;
        if (!step || !isStepTimedOut(step, rollout?.spec.throttle, now.getTime())) continue;
        const transition = applyFirmwareEvent(device.firmwareState, { type: 'timed-out' }, rollout?.spec.failurePolicy, now.getTime());
        const phase = transition.state.phase;
        const status = phase === 'quarantined' ? 'quarantined' : phase === 'cooling-down' ? 'cooling-down' : phase === 'retrying' ? 'retrying' : 'drifted';
        const wave = rollout ? (waveOfDevice(rollout, device.id)?.name ?? null) : null;
        const stepEvent = { rollout: name, wave, stepId: step.id, component: step.component, fromVersion: step.from, toVersion: step.to, cell: step.cell };
        const events = [{ type: 'step-timed-out', ...stepEvent, error: 'step timed out' }];
        if (transition.quarantined) events.push({ type: 'quarantined', ...stepEvent, error: 'step timed out' });
        const ended = await this.store.rollouts.expireStep({
          deviceId: device.id,
          stepId: step.id,
          rollout: name,
          cell: step.cell,
          wave,
          campaign: rollout ? rolloutCampaign(rollout) : null,
          firmwareState: transition.state,
          status,
          events,
          at: now,
        });
        if (ended) expired += 1;
      }
    }
    if (expired > 0) this.options.log.info({ expired }, 'firmware steps timed out');
    return expired;
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

  // ── operator API ────────────────────────────────────────────────────────

  private async authorize(token: BearerToken, role: OperatorRole): Promise<Principal> {
    if (!token) throw new UnauthorizedError();
    const row: OperatorTokenRow | null = await this.store.operatorTokens.findByHash(hashToken(token));
    if (!row) throw new UnauthorizedError();
    if (ROLE_RANK[row.role] < ROLE_RANK[role]) throw new ForbiddenError(`this needs the ${role} role`);
    return { id: row.id, name: row.name, role: row.role, tenants: row.tenants.includes(ALL_TENANTS) ? null : row.tenants };
  }

  private inScope(principal: Principal, tenant: string): boolean {
    return principal.tenants === null || principal.tenants.includes(tenant);
  }

  /** A device outside the token's tenants does not exist for it. */
  private async scopedDevice(principal: Principal, id: string): Promise<DeviceRow> {
    const device = await this.store.devices.get(id);
    if (!device || !this.inScope(principal, device.tenant)) throw new NotFoundError('device', id);
    return device;
  }

  private activeRevision(): ActiveRevision {
    const active = this.revisions.current;
    if (!active) throw new NoRevisionError();
    return active;
  }

  async registerDevice(token: BearerToken, registration: DeviceRegistration): Promise<object> {
    const principal = await this.authorize(token, 'operator');
    const { snapshot } = this.activeRevision();
    const site = snapshot.sites.get(registration.site);
    if (!site) throw new InvalidRequestError('unknown-site', '/site', `site ${registration.site} is not declared in the applied revision`);
    if (!snapshot.profiles.has(registration.profile)) {
      throw new InvalidRequestError('unknown-profile', '/profile', `profile ${registration.profile} is not declared in the applied revision`);
    }
    const tenant = site.spec.tenant;
    if (!this.inScope(principal, tenant)) throw new ForbiddenError(`site ${registration.site} belongs to a tenant outside this token's scope`);
    const deviceToken = generateToken('ffd');
    // A duplicate id surfaces as DeviceExistsError (device-exists, 409 at the edge) from the store.
    await this.store.devices.register({
      id: registration.id,
      tenant,
      profile: registration.profile,
      site: registration.site,
      labels: registration.labels ?? {},
      configOverride: (registration.config as JsonObject | undefined) ?? null,
      tokenHash: hashToken(deviceToken),
      firmwareState: INITIAL_FIRMWARE_STATE,
    });
    this.options.log.info({ device: registration.id, operator: principal.name }, 'device registered');
    const device = await this.store.devices.get(registration.id);
    // The only time the device token is ever shown.
    return { device: device ? deviceSummary(device) : { id: registration.id }, token: deviceToken };
  }

  async rotateDeviceToken(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    const deviceToken = generateToken('ffd');
    await this.store.devices.rotateToken(deviceId, hashToken(deviceToken), this.now());
    this.options.log.info({ device: deviceId, operator: principal.name }, 'device token rotated');
    return { id: deviceId, token: deviceToken };
  }

  async revokeDeviceToken(token: BearerToken, deviceId: string): Promise<void> {
    const principal = await this.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    await this.store.devices.revokeToken(deviceId, this.now());
    this.options.log.info({ device: deviceId, operator: principal.name }, 'device token revoked');
  }

  async listDevices(token: BearerToken, query: DeviceListQuery): Promise<object> {
    const principal = await this.authorize(token, 'viewer');
    const rows = await this.store.devices.list({
      tenants: principal.tenants,
      ...query,
      limit: Math.min(query.limit ?? 100, 1000),
    });
    return { devices: rows.map(deviceSummary) };
  }

  async getDevice(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.authorize(token, 'viewer');
    const device = await this.scopedDevice(principal, deviceId);
    const [history, commands] = await Promise.all([this.store.devices.firmwareHistory(deviceId), this.store.commands.list(deviceId)]);
    const active = this.revisions.current;
    return {
      ...deviceSummary(device),
      desired: {
        revision: active?.sha ?? null,
        // The config itself may hold secrets: operators see its hash only.
        configHash: device.desiredConfigHash,
        rollout: device.firmwareState.rollout,
      },
      reported: {
        firmware: device.reportedFirmware,
        configHash: device.reportedConfigHash,
        state: device.reportedState,
        revision: device.lastRevision,
      },
      drift: {
        config: device.desiredConfigHash !== null && device.reportedConfigHash !== device.desiredConfigHash,
        firmware: device.firmwareState.phase !== 'idle' || ['upgrading', 'retrying', 'cooling-down', 'blocked', 'off-matrix', 'quarantined'].includes(device.status),
      },
      firmware: {
        phase: device.firmwareState.phase,
        step: device.firmwareState.step,
        cycle: device.firmwareState.cycle,
        failuresInCycle: device.firmwareState.failuresInCycle,
        nextAttemptAt: device.firmwareState.nextAttemptAt === null ? null : new Date(device.firmwareState.nextAttemptAt).toISOString(),
        lastError: device.firmwareState.lastError,
        history: history.map((e) => ({
          type: e.type,
          at: iso(e.at),
          rollout: e.rollout,
          wave: e.wave,
          stepId: e.stepId,
          component: e.component,
          from: e.fromVersion,
          to: e.toVersion,
          cell: e.cell,
          error: e.error,
        })),
      },
      lastCell: device.lastCell,
      lastLocation: device.lastLocation,
      commands: commands.map((c) => ({ ...c, createdAt: iso(c.createdAt), deliveredAt: iso(c.deliveredAt), completedAt: iso(c.completedAt) })),
    };
  }

  async queueCommand(token: BearerToken, deviceId: string, command: CommandRequest): Promise<object> {
    const principal = await this.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    const row = await this.store.commands.queue({
      deviceId,
      type: command.type,
      params: command.params ?? {},
      createdBy: principal.name,
      at: this.now(),
    });
    return { ...row, createdAt: iso(row.createdAt) };
  }

  async listCommands(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.authorize(token, 'viewer');
    await this.scopedDevice(principal, deviceId);
    const rows = await this.store.commands.list(deviceId);
    return { commands: rows.map((c) => ({ ...c, createdAt: iso(c.createdAt), deliveredAt: iso(c.deliveredAt), completedAt: iso(c.completedAt) })) };
  }

  async listRevisions(token: BearerToken): Promise<object> {
    await this.authorize(token, 'viewer');
    const rows = await this.store.revisions.list();
    return { active: this.revisions.current?.sha ?? null, revisions: rows.map((r) => revisionView(r, false)) };
  }

  async getRevision(token: BearerToken, sha: string): Promise<object> {
    await this.authorize(token, 'viewer');
    const row = await this.store.revisions.get(sha);
    if (!row) throw new NotFoundError('revision', sha);
    return revisionView(row, true);
  }

  /** The review of `sha` against `base` (default: the applied revision), with this operator's devices. */
  async planRevision(token: BearerToken, sha: string, query: { base?: string; format?: PlanFormat }): Promise<RenderedPlan> {
    const principal = await this.authorize(token, 'viewer');
    return this.plans.plan({ head: sha, base: query.base ?? this.revisions.current?.sha ?? null, tenants: principal.tenants, format: query.format ?? 'json' });
  }

  private async rolloutView(name: string, detailed: boolean, principal?: Principal): Promise<object> {
    const { snapshot } = this.activeRevision();
    const rollout = snapshot.rollouts.find((r) => r.metadata.name === name);
    if (!rollout) throw new NotFoundError('rollout', name);
    const runtime = this.checkIns.rolloutRuntime(rollout);
    const inFlight = await this.store.slots.inFlightCounts(name);
    const waveIndex = rollout.spec.waves.findIndex((w) => w.name === rollout.spec.activeWave);
    const pausedReason = rollout.spec.paused ? 'paused in git' : runtime.autoPausedReason;
    const view: Record<string, unknown> = {
      name,
      target: rollout.spec.target,
      activeWave: rollout.spec.activeWave,
      paused: pausedReason !== null,
      pausedReason,
      inFlight: inFlight.total,
      throttle: rollout.spec.throttle ?? {},
      waves: rollout.spec.waves.map((wave, index) => {
        const progress = runtime.waves.find((w) => w.wave === wave.name);
        return {
          name: wave.name,
          percent: wave.percent,
          open: index <= waveIndex,
          succeeded: progress?.succeeded ?? 0,
          failed: progress?.failed ?? 0,
          maxFailureRatio: wave.maxFailureRatio ?? null,
        };
      }),
    };
    if (detailed) {
      // Per wave: members by stable hash bucket among the devices this rollout governs (within the token's tenants).
      const members = await this.store.devices.membership(principal?.tenants ?? null);
      const perWave = new Map<string, { devices: number; inFlight: number; byStatus: Record<string, number> }>();
      const byStatus: Record<string, number> = {};
      for (const device of members) {
        const governing = rolloutForDevice(snapshot, { id: device.id, profile: device.profile, site: device.site, labels: device.labels });
        if (governing?.metadata.name !== name) continue;
        byStatus[device.status] = (byStatus[device.status] ?? 0) + 1;
        const wave = deviceWave(rollout, device.id);
        if (!wave) continue;
        const entry = perWave.get(wave.name) ?? { devices: 0, inFlight: 0, byStatus: {} };
        entry.devices += 1;
        if (device.inFlightRollout === name) entry.inFlight += 1;
        entry.byStatus[device.status] = (entry.byStatus[device.status] ?? 0) + 1;
        perWave.set(wave.name, entry);
      }
      view.waves = (view.waves as { name: string; open: boolean }[]).map((wave) => {
        const entry = perWave.get(wave.name);
        return { ...wave, devices: entry?.devices ?? 0, eligible: wave.open ? (entry?.devices ?? 0) : 0, inFlight: entry?.inFlight ?? 0, byStatus: entry?.byStatus ?? {} };
      });
      view.devices = byStatus;
      view.inFlightPerCell = Object.fromEntries(inFlight.perCell);
    }
    return view;
  }

  async listRollouts(token: BearerToken): Promise<object> {
    await this.authorize(token, 'viewer');
    const active = this.revisions.current;
    if (!active) return { revision: null, rollouts: [] };
    const rollouts = await Promise.all(active.snapshot.rollouts.map((r) => this.rolloutView(r.metadata.name, false)));
    return { revision: active.sha, rollouts };
  }

  async getRollout(token: BearerToken, name: string): Promise<object> {
    const principal = await this.authorize(token, 'viewer');
    return this.rolloutView(name, true, principal);
  }

  async createOperatorToken(token: BearerToken, request: OperatorTokenRequest): Promise<object> {
    const principal = await this.authorize(token, 'admin');
    const body = request as Partial<OperatorTokenRequest> | null;
    if (!body || typeof body.name !== 'string' || body.name === '') throw new InvalidRequestError('invalid-request', '/name', 'name is required');
    if (body.role !== 'viewer' && body.role !== 'operator' && body.role !== 'admin') {
      throw new InvalidRequestError('invalid-request', '/role', 'role must be viewer, operator or admin');
    }
    if (!Array.isArray(body.tenants) || body.tenants.length === 0 || !body.tenants.every((t) => typeof t === 'string' && t !== '')) {
      throw new InvalidRequestError('invalid-request', '/tenants', 'tenants must be a non-empty list of tenant names (or "*")');
    }
    if (principal.tenants !== null && !body.tenants.every((t) => principal.tenants?.includes(t))) {
      throw new ForbiddenError('a token cannot grant tenants outside its own scope');
    }
    const operatorToken = generateToken('ffo');
    const id = await this.store.operatorTokens.create({ name: body.name, tokenHash: hashToken(operatorToken), role: body.role, tenants: body.tenants });
    return { id, name: body.name, role: body.role, tenants: body.tenants, token: operatorToken };
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
