// The Koa app: one error middleware at the edge, then routes that translate HTTP into calls
// on the engine API and back. Nothing below this layer sees ctx.
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { DEVICE_STATUSES, type CheckInAnswer, type CheckInRequest } from '../model/index.ts';
import { REVIEW_FORMATS, type ReviewFormat } from '../review/index.ts';
import { errorShape, RouteNotFoundError } from './errors.ts';
import { readJsonBody } from './body.ts';
import { queryEnum, queryInt, queryText } from './query.ts';
import { validateCheckIn, validateCommand, validateRegistration, type CommandRequest, type DeviceRegistration } from './validation.ts';
import { addAlertRoutes, type AlertsApi } from './alert-routes.ts';
import { addProvisioningRoutes, type ProvisioningApi } from './provisioning-routes.ts';

/** The bearer token as sent; the engine decides what it is worth. */
export type BearerToken = string | null;

export interface DeviceListQuery {
  site?: string;
  profile?: string;
  status?: string;
  limit?: number;
  offset?: number;
}

/** Renderings of a revision plan (`GET /v1/revisions/{sha}/plan?format=`): the review's; json is the default. */
export const PLAN_FORMATS = REVIEW_FORMATS;
export type PlanFormat = ReviewFormat;

export interface OperatorTokenRequest {
  name: string;
  role: string;
  tenants: string[];
}

/** What the HTTP layer needs from the engine. Every method may throw an error with `status` and `code`. */
export interface EngineApi {
  checkIn(deviceId: string, token: BearerToken, request: CheckInRequest): Promise<CheckInAnswer>;
  registerDevice(token: BearerToken, registration: DeviceRegistration): Promise<object>;
  rotateDeviceToken(token: BearerToken, deviceId: string): Promise<object>;
  revokeDeviceToken(token: BearerToken, deviceId: string): Promise<void>;
  listDevices(token: BearerToken, query: DeviceListQuery): Promise<object>;
  getDevice(token: BearerToken, deviceId: string): Promise<object>;
  queueCommand(token: BearerToken, deviceId: string, command: CommandRequest): Promise<object>;
  listCommands(token: BearerToken, deviceId: string): Promise<object>;
  listRevisions(token: BearerToken): Promise<object>;
  getRevision(token: BearerToken, sha: string): Promise<object>;
  /** What merging `sha` would do (as `fleetform diff`), rendered as asked. */
  planRevision(token: BearerToken, sha: string, query: { base?: string; format?: PlanFormat }): Promise<{ contentType: string; body: string }>;
  listRollouts(token: BearerToken): Promise<object>;
  getRollout(token: BearerToken, name: string): Promise<object>;
  createOperatorToken(token: BearerToken, request: OperatorTokenRequest): Promise<object>;
  renderMetrics(): Promise<{ contentType: string; body: string }>;
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean | string> }>;
  /** Request observed at the edge: for the latency histogram. */
  observeRequest(route: string, status: number, seconds: number): void;
  /** Alerts, offline analysis and the cell tower import (engine/http/alert-routes.ts). */
  readonly alerts?: AlertsApi;
  /** Provisioning jobs (engine/http/provisioning-routes.ts). */
  readonly provisioning?: ProvisioningApi;
}

export interface HttpAppOptions {
  api: EngineApi;
  logger: Logger;
  /** Largest accepted check-in body, bytes (default 16 KiB). */
  checkInBodyLimit?: number;
  /** Largest accepted operator body, bytes (default 64 KiB). */
  operatorBodyLimit?: number;
}

function bearer(header: string | undefined): BearerToken {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function createHttpApp(options: HttpAppOptions): Koa {
  const { api, logger } = options;
  const checkInLimit = options.checkInBodyLimit ?? 16 * 1024;
  const operatorLimit = options.operatorBodyLimit ?? 64 * 1024;
  const app = new Koa();
  app.proxy = false;
  // Koa would log errors itself; the edge middleware already did.
  app.silent = true;

  // The one error middleware: typed errors → JSON {error: {code, message, field?}}.
  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } catch (error) {
      const shape = errorShape(error);
      if (shape && shape.status < 500) {
        ctx.status = shape.status;
        ctx.body = { error: { code: shape.code, message: shape.message, ...(shape.field ? { field: shape.field } : {}) } };
      } else if (shape && shape.expose) {
        ctx.status = shape.status;
        ctx.body = { error: { code: shape.code, message: shape.message } };
        logger.warn({ code: shape.code, method: ctx.method, route: ctx._matchedRoute, err: (error as Error).cause ?? error }, shape.message);
      } else {
        ctx.status = 500;
        ctx.body = { error: { code: 'internal', message: 'internal error' } };
        logger.error({ method: ctx.method, route: ctx._matchedRoute, err: error }, 'request failed');
      }
      if (shape?.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(Math.ceil(shape.retryAfterSeconds)));
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : 'unmatched';
      api.observeRequest(route, ctx.status, seconds);
    }
  });

  const router = new Router();
  const token = (ctx: Koa.Context): BearerToken => bearer(ctx.get('authorization') || undefined);

  router.post('/v1/devices/:id/check-in', async (ctx) => {
    const body = validateCheckIn(await readJsonBody(ctx.req, checkInLimit));
    ctx.body = await api.checkIn(ctx.params.id ?? '', token(ctx), body);
  });

  router.post('/v1/devices', async (ctx) => {
    const registration = validateRegistration(await readJsonBody(ctx.req, operatorLimit));
    ctx.status = 201;
    ctx.body = await api.registerDevice(token(ctx), registration);
  });
  router.get('/v1/devices', async (ctx) => {
    const q = ctx.query;
    const query: DeviceListQuery = {};
    const site = queryText(q, 'site');
    const profile = queryText(q, 'profile');
    const status = queryEnum(q, 'status', DEVICE_STATUSES);
    const limit = queryInt(q, 'limit', 1, 1000);
    const offset = queryInt(q, 'offset', 0);
    if (site !== undefined) query.site = site;
    if (profile !== undefined) query.profile = profile;
    if (status !== undefined) query.status = status;
    if (limit !== undefined) query.limit = limit;
    if (offset !== undefined) query.offset = offset;
    ctx.body = await api.listDevices(token(ctx), query);
  });
  router.get('/v1/devices/:id', async (ctx) => {
    ctx.body = await api.getDevice(token(ctx), ctx.params.id ?? '');
  });
  router.post('/v1/devices/:id/token/rotate', async (ctx) => {
    ctx.body = await api.rotateDeviceToken(token(ctx), ctx.params.id ?? '');
  });
  router.post('/v1/devices/:id/token/revoke', async (ctx) => {
    await api.revokeDeviceToken(token(ctx), ctx.params.id ?? '');
    ctx.status = 204;
  });
  router.post('/v1/devices/:id/commands', async (ctx) => {
    const command = validateCommand(await readJsonBody(ctx.req, operatorLimit));
    ctx.status = 201;
    ctx.body = await api.queueCommand(token(ctx), ctx.params.id ?? '', command);
  });
  router.get('/v1/devices/:id/commands', async (ctx) => {
    ctx.body = await api.listCommands(token(ctx), ctx.params.id ?? '');
  });
  router.get('/v1/revisions', async (ctx) => {
    ctx.body = await api.listRevisions(token(ctx));
  });
  router.get('/v1/revisions/:sha', async (ctx) => {
    ctx.body = await api.getRevision(token(ctx), ctx.params.sha ?? '');
  });
  router.get('/v1/revisions/:sha/plan', async (ctx) => {
    const base = queryText(ctx.query, 'base');
    const format = queryEnum<PlanFormat>(ctx.query, 'format', PLAN_FORMATS);
    const plan = await api.planRevision(token(ctx), ctx.params.sha ?? '', { ...(base ? { base } : {}), ...(format ? { format } : {}) });
    ctx.type = plan.contentType;
    ctx.body = plan.body;
  });
  router.get('/v1/rollouts', async (ctx) => {
    ctx.body = await api.listRollouts(token(ctx));
  });
  router.get('/v1/rollouts/:name', async (ctx) => {
    ctx.body = await api.getRollout(token(ctx), ctx.params.name ?? '');
  });
  router.post('/v1/operator-tokens', async (ctx) => {
    const body = (await readJsonBody(ctx.req, operatorLimit)) as OperatorTokenRequest;
    ctx.status = 201;
    ctx.body = await api.createOperatorToken(token(ctx), body);
  });

  if (api.alerts) addAlertRoutes(router, api.alerts);
  if (api.provisioning) addProvisioningRoutes(router, api.provisioning, token);

  router.get('/metrics', async (ctx) => {
    const { contentType, body } = await api.renderMetrics();
    ctx.type = contentType;
    ctx.body = body;
  });
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const readiness = await api.ready();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = { status: readiness.ready ? 'ready' : 'not-ready', checks: readiness.checks };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(() => {
    throw new RouteNotFoundError();
  });
  return app;
}
