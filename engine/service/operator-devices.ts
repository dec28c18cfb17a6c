// The operator API for devices: registration (the device token shown once), token rotation and
// revocation, listing and detail (desired, reported, drift, firmware history), and commands.
import { INITIAL_FIRMWARE_STATE, type JsonObject } from '../model/index.ts';
import type { BearerToken, CommandRequest, DeviceListQuery, DeviceRegistration } from '../http/index.ts';
import type { DeviceRow } from '../store/index.ts';
import { inScope, type Principal } from './authorization.ts';
import { ForbiddenError, InvalidRequestError, NotFoundError } from './errors.ts';
import { iso, requireRevision, type OperatorContext } from './operator-context.ts';
import { generateToken, hashToken } from './tokens.ts';

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

export class OperatorDevices {
  constructor(private readonly context: OperatorContext) {}

  /** A device outside the token's tenants does not exist for it. */
  private async scopedDevice(principal: Principal, id: string): Promise<DeviceRow> {
    const device = await this.context.store.devices.get(id);
    if (!device || !inScope(principal, device.tenant)) throw new NotFoundError('device', id);
    return device;
  }

  async registerDevice(token: BearerToken, registration: DeviceRegistration): Promise<object> {
    const principal = await this.context.authorize(token, 'operator');
    const { snapshot } = requireRevision(this.context);
    const site = snapshot.sites.get(registration.site);
    if (!site) throw new InvalidRequestError('unknown-site', '/site', `site ${registration.site} is not declared in the applied revision`);
    if (!snapshot.profiles.has(registration.profile)) {
      throw new InvalidRequestError('unknown-profile', '/profile', `profile ${registration.profile} is not declared in the applied revision`);
    }
    const tenant = site.spec.tenant;
    if (!inScope(principal, tenant)) throw new ForbiddenError(`site ${registration.site} belongs to a tenant outside this token's scope`);
    const deviceToken = generateToken('ffd');
    // A duplicate id surfaces as DeviceExistsError (device-exists, 409 at the edge) from the store.
    await this.context.store.devices.register({
      id: registration.id,
      tenant,
      profile: registration.profile,
      site: registration.site,
      labels: registration.labels ?? {},
      configOverride: (registration.config as JsonObject | undefined) ?? null,
      tokenHash: hashToken(deviceToken),
      firmwareState: INITIAL_FIRMWARE_STATE,
    });
    this.context.log.info({ device: registration.id, operator: principal.name }, 'device registered');
    const device = await this.context.store.devices.get(registration.id);
    // The only time the device token is ever shown.
    return { device: device ? deviceSummary(device) : { id: registration.id }, token: deviceToken };
  }

  async rotateDeviceToken(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.context.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    const deviceToken = generateToken('ffd');
    await this.context.store.devices.rotateToken(deviceId, hashToken(deviceToken), this.context.now());
    this.context.log.info({ device: deviceId, operator: principal.name }, 'device token rotated');
    return { id: deviceId, token: deviceToken };
  }

  async revokeDeviceToken(token: BearerToken, deviceId: string): Promise<void> {
    const principal = await this.context.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    await this.context.store.devices.revokeToken(deviceId, this.context.now());
    this.context.log.info({ device: deviceId, operator: principal.name }, 'device token revoked');
  }

  async listDevices(token: BearerToken, query: DeviceListQuery): Promise<object> {
    const principal = await this.context.authorize(token, 'viewer');
    const rows = await this.context.store.devices.list({
      tenants: principal.tenants,
      ...query,
      limit: Math.min(query.limit ?? 100, 1000),
    });
    return { devices: rows.map(deviceSummary) };
  }

  async getDevice(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.context.authorize(token, 'viewer');
    const device = await this.scopedDevice(principal, deviceId);
    const [history, commands] = await Promise.all([this.context.store.devices.firmwareHistory(deviceId), this.context.store.commands.list(deviceId)]);
    const active = this.context.revision();
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
    const principal = await this.context.authorize(token, 'operator');
    await this.scopedDevice(principal, deviceId);
    const row = await this.context.store.commands.queue({
      deviceId,
      type: command.type,
      params: command.params ?? {},
      createdBy: principal.name,
      at: this.context.now(),
    });
    return { ...row, createdAt: iso(row.createdAt) };
  }

  async listCommands(token: BearerToken, deviceId: string): Promise<object> {
    const principal = await this.context.authorize(token, 'viewer');
    await this.scopedDevice(principal, deviceId);
    const rows = await this.context.store.commands.list(deviceId);
    return { commands: rows.map((c) => ({ ...c, createdAt: iso(c.createdAt), deliveredAt: iso(c.deliveredAt), completedAt: iso(c.completedAt) })) };
  }
}
