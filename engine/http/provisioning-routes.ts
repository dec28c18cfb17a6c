// Provisioning routes: upload logs (streamed), create a job from them, follow it, resume it, retry
// its failed rows, stop it, and fetch/acknowledge its sealed credentials. Every route resolves
// the caller first and reads a body only after: an unauthenticated request is answered 401 with
// nothing read, whatever it sends. Uploads are never held whole: the service parses them as
// they stream in and stores the rows; JSON bodies are small (a job names its uploads).
import type Router from '@koa/router';
import type Koa from 'koa';
import type { IncomingMessage } from 'node:http';
import { readJsonBody } from './body.ts';
import type { BearerToken } from './app.ts';
import { HttpError, PayloadTooLargeError } from './errors.ts';
import { queryEnum, queryInt } from './query.ts';

/** The operator behind a request: the token's id (what access is decided by), its name, its tenants (null: every tenant). */
export interface ProvisioningCaller {
  id: string;
  name: string;
  tenants: readonly string[] | null;
}

export interface UploadQuery {
  log: 'manufacturing' | 'shipments';
  format: 'csv' | 'jsonl';
  delimiter: ',' | ';' | '\t' | null;
}

/** What the provisioning routes need from the engine. Every method may throw an error with `status` and `code`. */
export interface ProvisioningApi {
  /** Resolves the caller, or throws 401/403: called before anything of the request is read. */
  authorizeProvisioning(token: BearerToken, role: 'viewer' | 'operator'): Promise<ProvisioningCaller>;
  uploadProvisioningLog(caller: ProvisioningCaller, query: UploadQuery, body: AsyncIterable<Uint8Array>): Promise<object>;
  createProvisioningJob(caller: ProvisioningCaller, body: unknown): Promise<object>;
  listProvisioningJobs(caller: ProvisioningCaller, query: { limit?: number; offset?: number }): Promise<object>;
  getProvisioningJob(caller: ProvisioningCaller, id: string, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object>;
  resumeProvisioningJob(caller: ProvisioningCaller, id: string): Promise<object>;
  retryFailedProvisioningJob(caller: ProvisioningCaller, id: string): Promise<object>;
  stopProvisioningJob(caller: ProvisioningCaller, id: string): Promise<object>;
  provisioningCredentials(caller: ProvisioningCaller, id: string, limit: number): Promise<object>;
  acknowledgeProvisioningCredentials(caller: ProvisioningCaller, id: string, body: unknown): Promise<object>;
}

export interface ProvisioningRouteOptions {
  /** Largest upload on the wire (gzip or not), bytes (default 256 MiB). */
  uploadLimit?: number;
  /** Largest job body (inline logs are for small files), bytes (default 1 MiB). */
  jobBodyLimit?: number;
}

const DELIMITERS = { ',': ',', ';': ';', tab: '\t', '\t': '\t' } as const;

/** The request body as it arrives, refused (413) once it passes `limit`. */
async function* limitedBody(req: IncomingMessage, limit: number): AsyncGenerator<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new PayloadTooLargeError(limit);
      yield chunk;
    }
  } catch (error) {
    // The client went away mid-upload: nothing to answer, nothing to log as a failure of ours.
    if ((error as { code?: string }).code === 'ECONNRESET' || (error as Error).message === 'aborted') {
      throw new HttpError(400, 'request-aborted', 'the upload was cut off before its end');
    }
    throw error;
  }
}

export function addProvisioningRoutes(router: Router, api: ProvisioningApi, token: (ctx: Koa.Context) => BearerToken, options: ProvisioningRouteOptions = {}): void {
  const uploadLimit = options.uploadLimit ?? 256 * 1024 * 1024;
  const jobLimit = options.jobBodyLimit ?? 1024 * 1024;
  const caller = (ctx: Koa.Context, role: 'viewer' | 'operator') => api.authorizeProvisioning(token(ctx), role);

  router.post('/v1/provisioning/uploads', async (ctx) => {
    const who = await caller(ctx, 'operator');
    const log = queryEnum(ctx.query, 'log', ['manufacturing', 'shipments'] as const);
    const format = queryEnum(ctx.query, 'format', ['csv', 'jsonl'] as const) ?? 'csv';
    const delimiter = queryEnum(ctx.query, 'delimiter', Object.keys(DELIMITERS) as (keyof typeof DELIMITERS)[]);
    if (!log) throw new HttpError(400, 'invalid-request', 'log must be manufacturing or shipments', '/log');
    ctx.status = 201;
    ctx.body = await api.uploadProvisioningLog(who, { log, format, delimiter: delimiter ? DELIMITERS[delimiter] : null }, limitedBody(ctx.req, uploadLimit));
  });
  router.post('/v1/provisioning/jobs', async (ctx) => {
    const who = await caller(ctx, 'operator');
    const body = await readJsonBody(ctx.req, jobLimit);
    ctx.status = 201;
    ctx.body = await api.createProvisioningJob(who, body);
  });
  router.get('/v1/provisioning/jobs', async (ctx) => {
    const who = await caller(ctx, 'viewer');
    const limit = queryInt(ctx.query, 'limit', 1, 500);
    const offset = queryInt(ctx.query, 'offset', 0);
    ctx.body = await api.listProvisioningJobs(who, { ...(limit !== undefined ? { limit } : {}), ...(offset !== undefined ? { offset } : {}) });
  });
  router.get('/v1/provisioning/jobs/:id', async (ctx) => {
    const who = await caller(ctx, 'viewer');
    const failuresLimit = queryInt(ctx.query, 'failuresLimit', 0, 10_000);
    const failuresOffset = queryInt(ctx.query, 'failuresOffset', 0);
    ctx.body = await api.getProvisioningJob(who, ctx.params.id ?? '', {
      ...(failuresLimit !== undefined ? { failuresLimit } : {}),
      ...(failuresOffset !== undefined ? { failuresOffset } : {}),
    });
  });
  router.post('/v1/provisioning/jobs/:id/resume', async (ctx) => {
    ctx.body = await api.resumeProvisioningJob(await caller(ctx, 'operator'), ctx.params.id ?? '');
  });
  router.post('/v1/provisioning/jobs/:id/retry-failed', async (ctx) => {
    ctx.body = await api.retryFailedProvisioningJob(await caller(ctx, 'operator'), ctx.params.id ?? '');
  });
  router.post('/v1/provisioning/jobs/:id/stop', async (ctx) => {
    ctx.body = await api.stopProvisioningJob(await caller(ctx, 'operator'), ctx.params.id ?? '');
  });
  router.get('/v1/provisioning/jobs/:id/credentials', async (ctx) => {
    const who = await caller(ctx, 'operator');
    ctx.body = await api.provisioningCredentials(who, ctx.params.id ?? '', queryInt(ctx.query, 'limit', 1, 1000) ?? 100);
  });
  router.post('/v1/provisioning/jobs/:id/credentials/ack', async (ctx) => {
    const who = await caller(ctx, 'operator');
    const body = await readJsonBody(ctx.req, 256 * 1024);
    ctx.body = await api.acknowledgeProvisioningCredentials(who, ctx.params.id ?? '', body);
  });
}
