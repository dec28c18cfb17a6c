// Store errors carry what should happen next: retry later (503) or fix the request (409/404).

export class StoreError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly expose = true,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The database is unreachable: nothing was acknowledged; the client retries after a pause. */
export class DatabaseUnavailableError extends StoreError {
  readonly retryAfterSeconds = 5;
  constructor(cause: unknown) {
    super('database-unavailable', 'the database is unavailable, retry later', 503);
    this.cause = cause;
  }
}

export class DeviceExistsError extends StoreError {
  constructor(id: string) {
    super('device-exists', `device ${id} is already registered`, 409);
  }
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03']);

/** Connection-level failures (server down, restarting, pool starved) as opposed to a bad query. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return /Timeout acquiring a connection|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|terminating connection/i.test(
    error.message,
  );
}

export function translateStoreError(error: unknown): unknown {
  return isConnectionFailure(error) ? new DatabaseUnavailableError(error) : error;
}
