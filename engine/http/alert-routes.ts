// Routes of the alerts API: alerts and their acknowledgement, offline cohort analysis and the
// cell tower import. Added to the app's router by createHttpApp when the engine offers them.
import type Router from '@koa/router';
import type Koa from 'koa';
import { readJsonBody } from './body.ts';
import { queryInt, queryText } from './query.ts';

/** What these routes need from the engine. Every method may throw an error with `status` and `code`. */
export interface AlertsApi {
  listAlerts(token: string | null, query: { status?: string; severity?: string; site?: string; rule?: string; device?: string; limit?: number; offset?: number }): Promise<object>;
  getAlert(token: string | null, id: string): Promise<object>;
  acknowledgeAlert(token: string | null, id: string): Promise<object>;
  offlineAnalysis(token: string | null, by: string | undefined, windowHours?: number): Promise<object>;
  importCellTowers(token: string | null, body: unknown): Promise<object>;
}

export interface AlertRoutesOptions {
  /** Largest accepted cell tower batch, bytes (default 4 MiB: the CLI sends 5 000 towers a request). */
  cellTowerBodyLimit?: number;
}

function bearer(ctx: Koa.Context): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
  return match?.[1] ?? null;
}

export function addAlertRoutes(router: Router, api: AlertsApi, options: AlertRoutesOptions = {}): void {
  const towerLimit = options.cellTowerBodyLimit ?? 4 * 1024 * 1024;

  router.get('/v1/alerts', async (ctx) => {
    const q = ctx.query;
    const query: Parameters<AlertsApi['listAlerts']>[1] = {};
    for (const name of ['status', 'severity', 'site', 'rule', 'device'] as const) {
      const value = queryText(q, name);
      if (value !== undefined) query[name] = value;
    }
    const limit = queryInt(q, 'limit', 1, 1000);
    const offset = queryInt(q, 'offset', 0);
    if (limit !== undefined) query.limit = limit;
    if (offset !== undefined) query.offset = offset;
    ctx.body = await api.listAlerts(bearer(ctx), query);
  });
  router.get('/v1/alerts/:id', async (ctx) => {
    ctx.body = await api.getAlert(bearer(ctx), ctx.params.id ?? '');
  });
  router.post('/v1/alerts/:id/ack', async (ctx) => {
    ctx.body = await api.acknowledgeAlert(bearer(ctx), ctx.params.id ?? '');
  });
  router.get('/v1/analysis/offline', async (ctx) => {
    ctx.body = await api.offlineAnalysis(bearer(ctx), queryText(ctx.query, 'by'), queryInt(ctx.query, 'windowHours', 1));
  });
  router.post('/v1/cell-towers', async (ctx) => {
    const body = await readJsonBody(ctx.req, towerLimit);
    ctx.body = await api.importCellTowers(bearer(ctx), body);
  });
}
