// Vitest global setup: one PostgreSQL for the whole run. DATABASE_URL when set,
// else an embedded server in a temp dir on a free port, stopped at teardown.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../engine/store/embedded-postgres.ts';
import { keepExitCode } from './exit-code.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin connection string of the test PostgreSQL server. */
    databaseAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The run's exit code must say whether a test failed, whatever ends the process.
  keepExitCode();
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    project.provide('databaseAdminUrl', fromEnv);
    return async () => undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'fleetform-test-pg-'));
  // The server may run as the postgres user (when the run is root): it must traverse the dir.
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dir: join(dir, 'postgres'), persistent: false });
  project.provide('databaseAdminUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
