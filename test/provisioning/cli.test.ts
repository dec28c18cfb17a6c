// `fleetform provision import` against a running engine: a credentials file written once, mode
// 600, one id,token line per provisioned device, its key gone once the job is complete; bad rows
// printed as FILE:line with their reason and the exit code saying so.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram } from '../../engine/cli/index.ts';
import { hashToken } from '../../engine/service/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, startTestEngine, type TestEngine } from '../support/engine.ts';
import { generateLogs } from './logs.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let dir: string;

async function fleetform(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runProgram(['node', 'fleetform', ...args], {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: { FLEETFORM_URL: server.url, FLEETFORM_TOKEN: ADMIN_TOKEN },
    cwd: dir,
    exit: () => undefined,
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir, provisioning: { workers: 2, pollMs: 50 } });
  await eventually(() => server.engine.revisions.current);
  dir = await mkdtemp(join(tmpdir(), 'fleetform-provision-cli-'));
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fleetform provision import', () => {
  it('writes each device token once to a mode-600 file, reports bad rows by line, and exits 1 for them', async () => {
    const logs = generateLogs(300, 5);
    await writeFile(join(dir, 'build-42.csv'), logs.manufacturing);
    await writeFile(join(dir, 'ship-42.csv'), logs.shipments);
    const run = await fleetform('provision', 'import', '--manufacturing', 'build-42.csv', '--shipments', 'ship-42.csv', '--credentials-out', 'tokens.csv', '--progress', 'lines');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/completed: 295 rows done, 5 failed of 300; 295 device credentials/);
    for (const [row, kind] of logs.bad) expect(run.stderr).toMatch(new RegExp(`build-42\\.csv:${row + 1}: row ${row}.*\\[${kind}\\]`));

    const path = join(dir, 'tokens.csv');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.key`)).toBe(false);
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('id,token');
    const tokens = new Map(lines.slice(1).map((line) => line.split(',') as [string, string]));
    expect([...tokens.keys()].sort()).toEqual([...logs.goodIds].sort());

    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const rows = (await sql.query<{ id: string; token_hash: string }>('select id, token_hash from device')).rows;
      for (const row of rows) expect(row.token_hash).toBe(hashToken(tokens.get(row.id)!));
      // Nothing readable left on the server.
      expect(Number((await sql.query('select count(*) from provisioning_credentials')).rows[0].count)).toBe(0);
    } finally {
      await sql.end();
    }
  });

  it('a CLI that stopped following picks the job up with resume, from the key it left beside the file', async () => {
    const content = ['id,hardware,fw.mcu,fw.ble', ...Array.from({ length: 40 }, (_, i) => `NW-${i + 1},tr,1.0.0,1.0.0`)].join('\n');
    await writeFile(join(dir, 'nowait.csv'), content);
    const started = await fleetform('provision', 'import', '--manufacturing', 'nowait.csv', '--default-site', 'plant-1', '--credentials-out', 'nowait-tokens.csv', '--no-wait');
    expect(started.code, started.stderr).toBe(0);
    const jobId = started.stdout.trim();
    expect(existsSync(join(dir, 'nowait-tokens.csv.key'))).toBe(true);
    const resumed = await fleetform('provision', 'resume', jobId, '--credentials-out', 'nowait-tokens.csv', '--progress', 'lines');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('40 device credentials');
    const lines = (await readFile(join(dir, 'nowait-tokens.csv'), 'utf8')).trim().split('\n');
    expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `NW-${i + 1}`).sort());
    expect(existsSync(join(dir, 'nowait-tokens.csv.key'))).toBe(false);
  });

  it('refuses to overwrite an existing credentials file', async () => {
    await writeFile(join(dir, 'taken.csv'), 'id,token\n');
    await writeFile(join(dir, 'one.csv'), 'id,hardware,fw.mcu,fw.ble\nONE-1,tr,1.0.0,1.0.0\n');
    const run = await fleetform('provision', 'import', '--manufacturing', 'one.csv', '--default-site', 'plant-1', '--credentials-out', 'taken.csv');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('credentials are written once');
    expect(await readFile(join(dir, 'taken.csv'), 'utf8')).toBe('id,token\n');
  });
});
