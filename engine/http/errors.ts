// Errors raised by the HTTP edge itself (body reading and validation), and how any error that reaches
// the edge middleware becomes an answer. Errors are mapped by shape: `status`, `code`, `expose`,
// optional `field` and `retryAfterSeconds` — so the layers below need not import this module. Domain
// errors without an HTTP status (the store's) get theirs from their stable code, here.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly expose = true,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(limit: number) {
    super(413, 'payload-too-large', `request body exceeds ${limit} bytes`);
  }
}

export class MalformedBodyError extends HttpError {
  constructor(message: string) {
    super(400, 'malformed-json', message);
  }
}

export class InvalidBodyError extends HttpError {
  constructor(field: string, message: string) {
    super(400, 'invalid-request', message, field);
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor() {
    super(415, 'unsupported-media-type', 'expected Content-Type: application/json');
  }
}

export class RouteNotFoundError extends HttpError {
  constructor() {
    super(404, 'not-found', 'no such route');
  }
}

/** What the edge needs from any thrown error to answer it. */
export interface ErrorShape {
  status: number;
  code: string;
  message: string;
  expose: boolean;
  field?: string;
  retryAfterSeconds?: number;
}

/**
 * The HTTP status of domain errors that carry a stable code and no status (engine/store/errors.ts).
 * Their messages are written for callers, so they are shown whatever the status.
 */
const STATUS_BY_DOMAIN_CODE: ReadonlyMap<string, number> = new Map([
  ['database-unavailable', 503],
  ['device-exists', 409],
]);

export function errorShape(error: unknown): ErrorShape | null {
  if (!(error instanceof Error)) return null;
  const candidate = error as Error & Partial<ErrorShape>;
  if (typeof candidate.code !== 'string') return null;
  const domainStatus = typeof candidate.status === 'number' ? undefined : STATUS_BY_DOMAIN_CODE.get(candidate.code);
  const status = typeof candidate.status === 'number' ? candidate.status : domainStatus;
  if (status === undefined) return null;
  return {
    status,
    code: candidate.code,
    message: candidate.message,
    expose: candidate.expose ?? (domainStatus !== undefined || status < 500),
    ...(typeof candidate.field === 'string' ? { field: candidate.field } : {}),
    ...(typeof candidate.retryAfterSeconds === 'number' ? { retryAfterSeconds: candidate.retryAfterSeconds } : {}),
  };
}
