// `fleetform serve` as a user starts it: the real bin, a real PostgreSQL, a real git repository.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { freePort } from '../../engine/store/index.ts';

const BIN = resolve(import.meta.dirname, '../../bin/fleetform.mjs');

function fleetform(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stderr: string }> {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) merged[key] = value;
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { env: merged, timeout: 90_000 }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stderr });
    });
  });
}

let db: TestDatabase;
let repo: FleetRepo;
let taken: Server;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  dataDir = await mkdtemp(join(tmpdir(), 'fleetform-serve-'));
  // As root, the embedded PostgreSQL runs as the postgres user, which must traverse the data dir's parents.
  await chmod(dataDir, 0o755);
  taken = createServer();
  await new Promise<void>((ready) => taken.listen(0, '127.0.0.1', ready));
});

afterAll(async () => {
  await new Promise((closed) => taken?.close(closed));
  await db?.drop();
  await repo?.remove();
  await rm(dataDir, { recursive: true, force: true });
});

describe('fleetform serve', () => {
  // No DATABASE_URL: the embedded PostgreSQL is started, then stopped again (its exit hook must not
  // turn the failure into exit 0).
  it('says in one line that its port is taken, and exits 1', async () => {
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const result = await fleetform(['serve', '--repo', repo.dir, '--port', String(port), '--data-dir', dataDir], {
      DATABASE_URL: undefined,
      FLEETFORM_HOST: '127.0.0.1',
      FLEETFORM_ADMIN_TOKEN: 'ffo_test_admin_token_for_the_serve_cli_test',
    });
    expect(result.stderr).toContain(`error: port ${port} is already in use; pass --port`);
    expect(result.code).toBe(1);
  });

  it('says in one line that the database cannot be reached, and exits 1', async () => {
    const closed = await freePort();
    const result = await fleetform(['serve', '--repo', repo.dir, '--port', '0', '--data-dir', dataDir], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/fleetform`,
      FLEETFORM_HOST: '127.0.0.1',
    });
    expect(result.stderr).toMatch(/^error: cannot reach the database: .*; check DATABASE_URL$/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(1);
  });

  // As root the embedded server runs as the postgres user, which must be able to enter every parent.
  it.runIf(process.getuid?.() === 0)('says in one line when the postgres user cannot reach the data directory', async () => {
    const closedParent = await mkdtemp(join(tmpdir(), 'fleetform-private-'));
    await chmod(closedParent, 0o700);
    try {
      const result = await fleetform(['serve', '--repo', repo.dir, '--port', '0', '--data-dir', join(closedParent, 'data')], { DATABASE_URL: undefined });
      expect(result.stderr).toContain(`error: the postgres user cannot enter ${closedParent}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.code).toBe(1);
    } finally {
      await rm(closedParent, { recursive: true, force: true });
    }
  });

  it('refuses a port that is not a port with a usage error', async () => {
    const result = await fleetform(['serve', '--repo', repo.dir, '--port', 'eighty'], { DATABASE_URL: db.url });
    expect(result.stderr).toContain('--port: not a port: eighty');
    expect(result.code).toBe(2);
  });
});
