// A database of its own for one benchmark run: a fresh database on DATABASE_URL's server when set,
// else an embedded PostgreSQL in a temp dir (stopped and removed by close()).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../engine/store/index.ts';

export interface BenchDatabase {
  url: string;
  /** 'embedded' or 'DATABASE_URL', for the printed machine line. */
  server: string;
  /** A scratch directory removed with the database. */
  work: string;
  close(): Promise<void>;
}

export async function openBenchDatabase(label: string): Promise<BenchDatabase> {
  const work = await mkdtemp(join(tmpdir(), `fleetform-bench-${label}-`));
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    // The embedded server runs as the postgres user when we are root: it must reach the directory.
    await chmod(work, 0o755);
    embedded = await startEmbeddedPostgres({ dir: join(work, 'postgres'), persistent: false });
    adminUrl = embedded.url;
  }
  const dbName = `fleetform_bench_${label.replace(/\W/g, '_')}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const serverUrl = adminUrl;
  return {
    url: url.toString(),
    server: embedded ? 'embedded' : 'DATABASE_URL',
    work,
    async close() {
      if (embedded) {
        await embedded.stop();
      } else {
        const cleanup = new pg.Client({ connectionString: serverUrl });
        await cleanup.connect();
        await cleanup.query(`drop database if exists ${dbName} with (force)`);
        await cleanup.end();
      }
      await rm(work, { recursive: true, force: true });
    },
  };
}
