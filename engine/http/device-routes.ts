// The device route: a check-in, its body size-limited and validated, answered by the engine's check-in path.
import type Router from '@koa/router';
import type Koa from 'koa';
import type { CheckInAnswer, CheckInRequest } from '../model/index.ts';
import type { BearerToken } from './app.ts';
import { readJsonBody } from './body.ts';
import { validateCheckIn } from './validation.ts';

/** What the device route needs from the engine. May throw an error with `status` and `code`. */
export interface DeviceApi {
  checkIn(deviceId: string, token: BearerToken, request: CheckInRequest): Promise<CheckInAnswer>;
}

export interface DeviceRouteOptions {
  /** Largest accepted check-in body, bytes. */
  checkInBodyLimit: number;
}

export function addDeviceRoutes(router: Router, api: DeviceApi, token: (ctx: Koa.Context) => BearerToken, options: DeviceRouteOptions): void {
  router.post('/v1/devices/:id/check-in', async (ctx) => {
    const body = validateCheckIn(await readJsonBody(ctx.req, options.checkInBodyLimit));
    ctx.body = await api.checkIn(ctx.params.id ?? '', token(ctx), body);
  });
}
