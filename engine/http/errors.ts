// Errors raised by the HTTP edge itself (body reading and validation). Every error that reaches
// the edge middleware is mapped by shape: `status`, `code`, `expose`, optional `field` and
// `retryAfterSeconds` — so the layers below need not import this module.

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

export function errorShape(error: unknown): ErrorShape | null {
  if (!(error instanceof Error)) return null;
  const candidate = error as Error & Partial<ErrorShape>;
  if (typeof candidate.status !== 'number' || typeof candidate.code !== 'string') return null;
  return {
    status: candidate.status,
    code: candidate.code,
    message: candidate.message,
    expose: candidate.expose ?? candidate.status < 500,
    ...(typeof candidate.field === 'string' ? { field: candidate.field } : {}),
    ...(typeof candidate.retryAfterSeconds === 'number' ? { retryAfterSeconds: candidate.retryAfterSeconds } : {}),
  };
}
