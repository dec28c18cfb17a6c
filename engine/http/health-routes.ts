// Health and metrics routes: /metrics (Prometheus text), /healthz (the process answers), /readyz (it can serve).
import type Router from '@koa/router';

/** What the health routes need from the engine. */
export interface HealthApi {
  renderMetrics(): Promise<{ contentType: string; body: string }>;
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean | string> }>;
}

export function addHealthRoutes(router: Router, api: HealthApi): void {
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
}
