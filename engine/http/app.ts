// The Koa app, composed: the one error middleware at the edge (which also measures each request),
// then the routers — device, operator, alerts, provisioning, health — over one EngineApi.
// Nothing below this layer sees ctx.
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { errorShape, RouteNotFoundError } from './errors.ts';
import { addDeviceRoutes, type DeviceApi } from './device-routes.ts';
import { addOperatorRoutes, type OperatorApi } from './operator-routes.ts';
import { addHealthRoutes, type HealthApi } from './health-routes.ts';
import { addAlertRoutes, type AlertsApi } from './alert-routes.ts';
import { addProvisioningRoutes, type ProvisioningApi } from './provisioning-routes.ts';
import { serveConsole } from './console-routes.ts';
import { conditionalGet } from './conditional-get.ts';
import { addOverviewRoutes, type OverviewApi } from './overview-routes.ts';

export { PLAN_FORMATS } from './operator-routes.ts';
export type { DeviceListQuery, OperatorTokenRequest, PlanFormat } from './operator-routes.ts';

/** The bearer token as sent; the engine decides what it is worth. */
export type BearerToken = string | null;

/** What the HTTP layer needs from the engine. Every method may throw an error with `status` and `code`. */
export interface EngineApi extends DeviceApi, OperatorApi, HealthApi {
  /** Request observed at the edge: for the latency histogram. */
  observeRequest(route: string, status: number, seconds: number): void;
  /** Alerts, offline analysis and the cell tower import (engine/http/alert-routes.ts). */
  readonly alerts?: AlertsApi;
  /** Provisioning jobs (engine/http/provisioning-routes.ts). */
  readonly provisioning?: ProvisioningApi;
  /** Who the token is and the fleet's counts (engine/http/overview-routes.ts). */
  readonly overview?: OverviewApi;
}

export interface HttpAppOptions {
  api: EngineApi;
  logger: Logger;
  /** Largest accepted check-in body, bytes (default 16 KiB). */
  checkInBodyLimit?: number;
  /** Largest accepted operator body, bytes (default 64 KiB). */
  operatorBodyLimit?: number;
  /** The built operator console served at `/` (default dist/console/). */
  consoleDir?: string;
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

  app.use(conditionalGet());
  app.use(serveConsole(options.consoleDir ? { dir: options.consoleDir } : {}));

  const router = new Router();
  const token = (ctx: Koa.Context): BearerToken => bearer(ctx.get('authorization') || undefined);

  addDeviceRoutes(router, api, token, { checkInBodyLimit: checkInLimit });
  addOperatorRoutes(router, api, token, { operatorBodyLimit: operatorLimit });
  if (api.alerts) addAlertRoutes(router, api.alerts);
  if (api.provisioning) addProvisioningRoutes(router, api.provisioning, token);
  if (api.overview) addOverviewRoutes(router, api.overview, token);
  addHealthRoutes(router, api);

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(() => {
    throw new RouteNotFoundError();
  });
  return app;
}
