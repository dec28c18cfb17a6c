// Store errors: domain errors with a stable `code` that say what should happen next — retry later (the
// database is unavailable) or fix the request (the device exists). They carry no HTTP status: the HTTP
// edge maps their codes (engine/http/errors.ts).

export class StoreError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The database is unreachable: nothing was acknowledged; the caller retries after a pause. */
export class DatabaseUnavailableError extends StoreError {
  /** How long a caller should wait before trying again. */
  readonly retryAfterSeconds = 5;
  constructor(cause: unknown) {
    super('database-unavailable', 'the database is unavailable, retry later');
    this.cause = cause;
  }
}

export class DeviceExistsError extends StoreError {
  constructor(id: string) {
    super('device-exists', `device ${id} is already registered`);
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
