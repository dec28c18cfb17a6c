// `fleetform provision import` against a running engine: logs uploaded as streams, a credentials
// file written once, mode 600, sealed to the factory's age recipient (Debian's `age -d` opens it:
// one {"id","token"} line per provisioned device), nothing unsealed on disk, the parts and their
// key gone once the job is complete; bad rows printed as FILE:line with their reason and the
// exit code saying so; progress as plain lines off a terminal.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
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
let recipient: string;

/** Opens the factory's file with Debian's age and the factory's key. */
async function factoryOpens(file: string): Promise<Map<string, string>> {
  const { stdout } = await promisify(execFile)('age', ['-d', '-i', join(dir, 'factory-key.txt'), join(dir, file)]);
  return new Map(
    stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => {
        const { id, token } = JSON.parse(line) as { id: string; token: string };
        return [id, token];
      }),
  );
}

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
  // The factory's key, made by the factory's tool.
  await promisify(execFile)('age-keygen', ['-o', join(dir, 'factory-key.txt')]);
  recipient = (await promisify(execFile)('age-keygen', ['-y', join(dir, 'factory-key.txt')])).stdout.trim();
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fleetform provision import', () => {
  it('seals each device token once into an age file the factory opens, reports bad rows by line, and exits 1 for them', async () => {
    const logs = generateLogs(300, 5);
    await writeFile(join(dir, 'build-42.csv.gz'), gzipSync(logs.manufacturing));
    await writeFile(join(dir, 'ship-42.csv'), logs.shipments);
    const run = await fleetform(
      'provision', 'import', '--manufacturing', 'build-42.csv.gz', '--shipments', 'ship-42.csv',
      '--recipient', recipient, '--credentials-out', 'tokens.age', '--progress', 'lines',
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/completed: 295 rows done, 5 failed of 300; 295 device credentials sealed in .*tokens\.age/);
    for (const [row, kind] of logs.bad) expect(run.stderr).toMatch(new RegExp(`build-42\\.csv\\.gz:${row + 1}: row ${row}.*\\[${kind}\\]`));
    // Stages as plain lines: the uploads, validation, and the job's figures.
    expect(run.stderr).toMatch(/^upload manufacturing build-42\.csv\.gz: .*300 rows, 1 unreadable, delimiter ,$/m);
    expect(run.stderr).toMatch(/^upload shipments ship-42\.csv: .*295 rows/m);
    expect(run.stderr).toMatch(/^validate: job [0-9a-f-]{36}, 300 rows, 5 failed validation$/m);
    expect(run.stderr).toMatch(/^completed 100% 300\/300 rows .*rows\/s.*\| register 295 · credentials 295 · site 295 · ready 295 · 5 failed$/m);

    const path = join(dir, 'tokens.age');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.parts`)).toBe(false);
    expect(await readFile(path, 'utf8')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    const tokens = await factoryOpens('tokens.age');
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

  it('a CLI that stopped following picks the job up with resume, from the parts it left beside the file', async () => {
    const content = ['id;hardware;fw.mcu;fw.ble', ...Array.from({ length: 40 }, (_, i) => `NW-${i + 1};tr;1.0.0;1.0.0`)].join('\n');
    await writeFile(join(dir, 'nowait.csv'), content);
    const started = await fleetform('provision', 'import', '--manufacturing', 'nowait.csv', '--default-site', 'plant-1', '--recipient', recipient, '--credentials-out', 'nowait.age', '--no-wait', '--progress', 'none');
    expect(started.code, started.stderr).toBe(0);
    const jobId = started.stdout.trim();
    expect(await readdir(join(dir, 'nowait.age.parts'))).toEqual(expect.arrayContaining(['key.txt', 'recipients.txt']));
    const resumed = await fleetform('provision', 'resume', jobId, '--credentials-out', 'nowait.age', '--progress', 'lines');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('40 device credentials sealed in');
    expect([...(await factoryOpens('nowait.age')).keys()].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `NW-${i + 1}`).sort());
    expect(existsSync(join(dir, 'nowait.age.parts'))).toBe(false);
  });

  it('refuses to overwrite an existing credentials file, and to run without a factory recipient', async () => {
    await writeFile(join(dir, 'taken.age'), 'sealed before');
    await writeFile(join(dir, 'one.csv'), 'id,hardware,fw.mcu,fw.ble\nONE-1,tr,1.0.0,1.0.0\n');
    const run = await fleetform('provision', 'import', '--manufacturing', 'one.csv', '--default-site', 'plant-1', '--recipient', recipient, '--credentials-out', 'taken.age');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('credentials are written once');
    expect(await readFile(join(dir, 'taken.age'), 'utf8')).toBe('sealed before');
    const bare = await fleetform('provision', 'import', '--manufacturing', 'one.csv', '--default-site', 'plant-1');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--recipient age1');
    const wrong = await fleetform('provision', 'import', '--manufacturing', 'one.csv', '--default-site', 'plant-1', '--recipient', 'age1nope');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('not an X25519 age recipient');
  });
});
