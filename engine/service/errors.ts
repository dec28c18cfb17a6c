// Errors of the engine's API, each with the HTTP status it maps to at the edge and a stable code.

export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
  readonly expose = true;
}

/** Same answer for an unknown device, a wrong token and a revoked one: nothing to learn from it. */
export class UnauthorizedError extends EngineError {
  constructor() {
    super(401, 'unauthorized', 'missing or invalid credentials');
  }
}

export class ForbiddenError extends EngineError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends EngineError {
  constructor(what: string, name: string) {
    super(404, 'not-found', `${what} ${name} not found`);
  }
}

export class InvalidRequestError extends EngineError {
  constructor(code: string, field: string, message: string) {
    super(400, code, message, field);
  }
}

export class TooManyCheckInsError extends EngineError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'too-many-check-ins', `check-ins are too frequent; retry in ${retryAfterSeconds} s`);
  }
}

/** No revision has been applied yet: the engine cannot answer a device. */
export class NoRevisionError extends EngineError {
  readonly retryAfterSeconds = 30;
  constructor() {
    super(503, 'no-revision', 'no configuration revision has been applied yet');
  }
}

/** The device names a profile or site the active revision does not declare. */
export class DeviceOutOfConfigError extends EngineError {
  constructor(message: string) {
    super(409, 'device-not-in-revision', message);
  }
}

/**
 * The device's config holds a secret this engine cannot decrypt or resolve (no --age-identity, a
 * missing env var or file): an operator must act; the device retries later. Never names the value.
 */
export class SecretsUnavailableError extends EngineError {
  readonly retryAfterSeconds = 300;
  constructor() {
    super(503, 'secret-unavailable', "the device's config needs a secret this engine cannot reveal (start it with --age-identity)");
  }
}
