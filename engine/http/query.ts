// Query-string parameters: an absent or empty parameter is undefined; a present one that does not
// parse is refused with 400 naming it, rather than silently ignored (a typo in `limit` must not
// return the default page as if it were the answer).
import type Koa from 'koa';
import { HttpError } from './errors.ts';

type Query = Koa.Context['query'];

export function queryText(query: Query, name: string): string | undefined {
  const raw = query[name];
  if (Array.isArray(raw)) throw new HttpError(400, 'invalid-request', `${name} may be given once`, `/${name}`);
  return typeof raw === 'string' && raw !== '' ? raw : undefined;
}

export function queryInt(query: Query, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = queryText(query, name);
  if (raw === undefined) return undefined;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new HttpError(400, 'invalid-request', `${name} must be an integer ${range}`, `/${name}`);
  }
  return n;
}

export function queryEnum<T extends string>(query: Query, name: string, allowed: readonly T[]): T | undefined {
  const raw = queryText(query, name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new HttpError(400, 'invalid-request', `${name} must be one of ${allowed.join(', ')}`, `/${name}`);
  }
  return raw as T;
}
