// Operator routes: devices (registration, tokens, listing, detail), commands, revisions and their plan,
// rollouts and operator tokens — HTTP translated into calls on the engine's operator API and back.
import type Router from '@koa/router';
import type Koa from 'koa';
import { DEVICE_STATUSES } from '../model/index.ts';
import { REVIEW_FORMATS, type ReviewFormat } from '../review/index.ts';
import type { BearerToken } from './app.ts';
import { readJsonBody } from './body.ts';
import { queryEnum, queryInt, queryText } from './query.ts';
import { validateCommand, validateRegistration, type CommandRequest, type DeviceRegistration } from './validation.ts';

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

/** What the operator routes need from the engine. Every method may throw an error with `status` and `code`. */
export interface OperatorApi {
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
}

export interface OperatorRouteOptions {
  /** Largest accepted operator body, bytes. */
  operatorBodyLimit: number;
}

export function addOperatorRoutes(router: Router, api: OperatorApi, token: (ctx: Koa.Context) => BearerToken, options: OperatorRouteOptions): void {
  const operatorLimit = options.operatorBodyLimit;
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
}
