// Conditional GET for the operator API's JSON answers: an ETag over the body, and 304 with no body
// when the caller already holds it (If-None-Match). The console polls; an unchanged page then costs
// a few hundred bytes on the wire and no re-render in the browser. The engine still computes the
// answer (authorization and tenant scope run as always): this saves bandwidth, not queries.
import { createHash } from 'node:crypto';
import type Koa from 'koa';

/**
 * Whether If-None-Match names this ETag (weak comparison, RFC 9110 §13.1.2). Not Koa's `ctx.fresh`:
 * that refuses whenever the request says `Cache-Control: no-cache`, and fetch() adds exactly that to
 * every request whose If-None-Match the page set itself — so it would never answer 304 to the console.
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}

function isJsonBody(body: unknown): body is object {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body) && typeof (body as { pipe?: unknown }).pipe !== 'function';
}

export function conditionalGet(): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.status !== 200 || !ctx.path.startsWith('/v1/') || !isJsonBody(ctx.body)) return;
    const json = JSON.stringify(ctx.body);
    ctx.body = json;
    ctx.type = 'application/json';
    const etag = `W/"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;
    ctx.set('ETag', etag);
    // Tenant data stays out of the browser's disk cache; the console revalidates with If-None-Match itself.
    ctx.set('Cache-Control', 'no-store');
    if (etagMatches(ctx.get('if-none-match'), etag)) ctx.status = 304;
  };
}
