// Two reads the console needed and the API lacked: who the token is (so a page can leave out what
// the role may not do; the API refuses it anyway), and the fleet's counts (the overview, and page
// totals for the device list) without paging through every device.
import type Router from '@koa/router';
import type Koa from 'koa';
import type { BearerToken } from './app.ts';

export interface Whoami {
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  /** `["*"]`: every tenant. */
  tenants: string[];
}

export interface FleetSummary {
  /** Devices within the token's tenants. */
  devices: number;
  byStatus: Record<string, number>;
  bySite: Record<string, number>;
  byProfile: Record<string, number>;
}

/** What these routes need from the engine. Every method may throw an error with `status` and `code`. */
export interface OverviewApi {
  whoami(token: BearerToken): Promise<Whoami>;
  fleetSummary(token: BearerToken): Promise<FleetSummary>;
}

export function addOverviewRoutes(router: Router, api: OverviewApi, token: (ctx: Koa.Context) => BearerToken): void {
  router.get('/v1/me', async (ctx) => {
    ctx.body = await api.whoami(token(ctx));
  });
  router.get('/v1/fleet/summary', async (ctx) => {
    ctx.body = await api.fleetSummary(token(ctx));
  });
}
