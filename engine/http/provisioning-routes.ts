// Provisioning routes: create a job from log contents (JSON), follow it, resume it, retry its
// failed rows, stop it, and fetch/acknowledge its sealed credentials.
import type Router from '@koa/router';
import type Koa from 'koa';
import { readJsonBody } from './body.ts';
import type { BearerToken } from './app.ts';
import { queryInt } from './query.ts';

/** What the provisioning routes need from the engine. Every method may throw an error with `status` and `code`. */
export interface ProvisioningApi {
  createProvisioningJob(token: BearerToken, body: unknown): Promise<object>;
  getProvisioningJob(token: BearerToken, id: string, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object>;
  resumeProvisioningJob(token: BearerToken, id: string): Promise<object>;
  retryFailedProvisioningJob(token: BearerToken, id: string): Promise<object>;
  stopProvisioningJob(token: BearerToken, id: string): Promise<object>;
  provisioningCredentials(token: BearerToken, id: string, limit: number): Promise<object>;
  acknowledgeProvisioningCredentials(token: BearerToken, id: string, body: unknown): Promise<object>;
}

export interface ProvisioningRouteOptions {
  /** Largest accepted job body (the log files inline), bytes (default 256 MiB). */
  jobBodyLimit?: number;
}

export function addProvisioningRoutes(
  router: Router,
  api: ProvisioningApi,
  token: (ctx: Koa.Context) => BearerToken,
  options: ProvisioningRouteOptions = {},
): void {
  const jobLimit = options.jobBodyLimit ?? 256 * 1024 * 1024;
  router.post('/v1/provisioning/jobs', async (ctx) => {
    const body = await readJsonBody(ctx.req, jobLimit);
    ctx.status = 201;
    ctx.body = await api.createProvisioningJob(token(ctx), body);
  });
  router.get('/v1/provisioning/jobs/:id', async (ctx) => {
    const failuresLimit = queryInt(ctx.query, 'failuresLimit', 0, 10_000);
    const failuresOffset = queryInt(ctx.query, 'failuresOffset', 0);
    ctx.body = await api.getProvisioningJob(token(ctx), ctx.params.id ?? '', {
      ...(failuresLimit !== undefined ? { failuresLimit } : {}),
      ...(failuresOffset !== undefined ? { failuresOffset } : {}),
    });
  });
  router.post('/v1/provisioning/jobs/:id/resume', async (ctx) => {
    ctx.body = await api.resumeProvisioningJob(token(ctx), ctx.params.id ?? '');
  });
  router.post('/v1/provisioning/jobs/:id/retry-failed', async (ctx) => {
    ctx.body = await api.retryFailedProvisioningJob(token(ctx), ctx.params.id ?? '');
  });
  router.post('/v1/provisioning/jobs/:id/stop', async (ctx) => {
    ctx.body = await api.stopProvisioningJob(token(ctx), ctx.params.id ?? '');
  });
  router.get('/v1/provisioning/jobs/:id/credentials', async (ctx) => {
    ctx.body = await api.provisioningCredentials(token(ctx), ctx.params.id ?? '', queryInt(ctx.query, 'limit', 1, 1000) ?? 100);
  });
  router.post('/v1/provisioning/jobs/:id/credentials/ack', async (ctx) => {
    const body = await readJsonBody(ctx.req, 1024 * 1024);
    ctx.body = await api.acknowledgeProvisioningCredentials(token(ctx), ctx.params.id ?? '', body);
  });
}
