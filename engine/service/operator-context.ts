// What every operator API service is given (store, authorization, the applied revision, clock, log) and the helpers they share.
import type { Logger } from 'pino';
import type { FleetStore } from '../store/index.ts';
import type { Authorize } from './authorization.ts';
import { NoRevisionError } from './errors.ts';
import type { ActiveRevision } from './revisions.ts';

export interface OperatorContext {
  store: FleetStore;
  authorize: Authorize;
  /** The applied revision, if any. */
  revision(): ActiveRevision | null;
  now(): Date;
  log: Logger;
}

/** The applied revision; without one the engine cannot answer (503, no-revision). */
export function requireRevision(context: OperatorContext): ActiveRevision {
  const active = context.revision();
  if (!active) throw new NoRevisionError();
  return active;
}

export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}
