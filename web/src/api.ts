// The console's only door to the engine: the public operator API, same origin, the operator token as
// a bearer header. GET answers are kept with their ETag and revalidated with If-None-Match, so a poll
// of an unchanged page is a 304 and hands back the very same object (no re-render).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Seconds, from Retry-After (429/503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

interface Cached {
  etag: string;
  data: unknown;
}

export interface ApiClient {
  get<T>(path: string): Promise<T>;
  /** The plan route answers markdown, not JSON. */
  getText(path: string): Promise<string>;
  post<T>(path: string, body?: unknown): Promise<T>;
  /** Whether the engine has a route (OPTIONS lists its methods): how optional panels find out. */
  allows(path: string, method: string): Promise<boolean>;
  /** Forget every kept answer (sign-out: nothing of one token is shown to the next). */
  clear(): void;
}

async function failure(response: Response): Promise<ApiError> {
  let code = 'http-' + response.status;
  let message = response.statusText || `HTTP ${response.status}`;
  let field: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (typeof body.error?.field === 'string') field = body.error.field;
  } catch {
    // not JSON: keep the status line
  }
  const retry = Number(response.headers.get('retry-after'));
  return new ApiError(response.status, code, message, field, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

/** Answers kept for revalidation; the oldest go first (a long session visits many device pages). */
const KEPT_ANSWERS = 200;

export function createApiClient(token: () => string | null, onUnauthorized: () => void): ApiClient {
  const cache = new Map<string, Cached>();

  async function send(path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> {
    const bearer = token();
    if (bearer) init.headers.authorization = `Bearer ${bearer}`;
    let response: Response;
    try {
      // credentials: 'omit' — the console never rides on cookies; the bearer header is the only credential.
      response = await fetch(path, { ...init, credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'unreachable', 'the engine does not answer');
    }
    if (response.status === 401) onUnauthorized();
    return response;
  }

  return {
    async get<T>(path: string): Promise<T> {
      const kept = cache.get(path);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (kept) headers['if-none-match'] = kept.etag;
      const response = await send(path, { headers });
      if (response.status === 304 && kept) return kept.data as T;
      if (!response.ok) throw await failure(response);
      const data = (await response.json()) as T;
      const etag = response.headers.get('etag');
      if (etag) {
        cache.delete(path);
        cache.set(path, { etag, data });
        if (cache.size > KEPT_ANSWERS) cache.delete(cache.keys().next().value as string);
      }
      return data;
    },
    async getText(path: string): Promise<string> {
      const response = await send(path, { headers: {} });
      if (!response.ok) throw await failure(response);
      return response.text();
    },
    async post<T>(path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' };
      const init: RequestInit & { headers: Record<string, string> } = { method: 'POST', headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      const response = await send(path, init);
      if (!response.ok) throw await failure(response);
      const text = await response.text();
      return (text ? JSON.parse(text) : null) as T;
    },
    async allows(path: string, method: string): Promise<boolean> {
      try {
        const response = await send(path, { method: 'OPTIONS', headers: {} });
        if (!response.ok) return false;
        const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim().toUpperCase());
        return allow.includes(method.toUpperCase());
      } catch {
        return false;
      }
    },
    clear(): void {
      cache.clear();
    },
  };
}

/** `/v1/devices?site=a&status=b` from a path and the parameters that are set. */
export function withQuery(path: string, params: Record<string, string | number | undefined | null>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function segment(value: string): string {
  return encodeURIComponent(value);
}
