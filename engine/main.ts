// The composition root: the one place that reads the process environment and wires adapters.
import { chmod, mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { runProgram } from './cli/index.ts';
import { DEFAULT_SECRET_SOURCES, secretSourceResolver, type SecretSources } from './config/index.ts';
import { startEmbeddedPostgres, type RunningPostgres } from './store/index.ts';
import { Engine, HttpCarrier } from './service/index.ts';

export async function runCli(argv: readonly string[]): Promise<number> {
  return runProgram(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    exit: () => undefined,
  });
}

export interface ServeOptions {
  repoDir: string;
  branch: string;
  port: number;
  host?: string;
  dataDir: string;
  ageIdentityFile?: string;
  /** What a secretRef may name (default: FLEETFORM_SECRET_* variables, no files). */
  secretSources?: SecretSources;
  /** Carrier file for provisioning's SIM activation (docs/provisioning.md); none: activation is skipped. */
  carrierFile?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Where the one-time admin token announcement goes (stdout). */
  announce(text: string): void;
}

export interface RunningServe {
  engine: Engine;
  port: number;
  databaseUrl: string;
  stop(): Promise<void>;
}

export function createLogger(env: Readonly<Record<string, string | undefined>>): Logger {
  return pino({
    level: env.FLEETFORM_LOG_LEVEL ?? 'info',
    // Belt and braces: nothing that looks like a credential is ever written.
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', '*.headers.authorization', 'password', '*.password'], censor: '[redacted]' },
  });
}

/** Creates the `fleetform` database on an embedded server when it is not there yet. */
async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function positiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** The carrier file, read and checked, its credentials resolved; errors carry a code serve reports in one line. */
async function loadCarrier(file: string, resolveSecret: (reference: { env: string } | { file: string }) => string | undefined | Promise<string | undefined>): Promise<HttpCarrier> {
  try {
    return await HttpCarrier.fromFile(file, resolveSecret);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw Object.assign(new Error(`cannot read the carrier file ${file}: no such file`), { code: 'carrier-file-unreadable' });
    throw error;
  }
}

/** `fleetform serve`: database (DATABASE_URL or embedded under the data dir), engine, HTTP. */
export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const { env } = options;
  const log = createLogger(env);
  const dataDir = isAbsolute(options.dataDir) ? options.dataDir : resolve(options.cwd, options.dataDir);
  await mkdir(dataDir, { recursive: true });
  let embedded: RunningPostgres | null = null;
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    log.info({ dir: join(dataDir, 'postgres') }, 'starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({
      dir: join(dataDir, 'postgres'),
      port: positiveInt(env.FLEETFORM_EMBEDDED_PG_PORT, 0),
      log: (line) => log.debug({ postgres: line }),
    });
    databaseUrl = await ensureDatabase(embedded.url, 'fleetform');
  }
  const identity = options.ageIdentityFile ?? env.FLEETFORM_AGE_IDENTITY_FILE;
  // One resolver for every secret the engine reads (config secretRefs, the carrier's credentials):
  // only the declared sources, never the repository or any other file of the host.
  const resolveSecret = secretSourceResolver(options.secretSources ?? DEFAULT_SECRET_SOURCES, {
    env,
    realpath: (path) => realpath(path),
    stat: (path) => stat(path),
    readFile: (path) => readFile(path, 'utf8'),
  });
  const carrierFile = options.carrierFile ?? env.FLEETFORM_CARRIER_FILE;
  let engine: Engine;
  try {
    const carrier = carrierFile ? await loadCarrier(resolve(options.cwd, carrierFile), resolveSecret) : null;
    engine = await Engine.start({
      databaseUrl,
      repoDir: options.repoDir,
      branch: options.branch,
      log,
      compile: {
        ...(identity ? { identity: await readFile(resolve(options.cwd, identity), 'utf8') } : {}),
        resolveReference: resolveSecret,
      },
      ...(carrier ? { provisioning: { carrier } } : {}),
      ...(env.FLEETFORM_ADMIN_TOKEN ? { adminToken: env.FLEETFORM_ADMIN_TOKEN } : {}),
      onAdminTokenGenerated: async (token) => {
        const file = join(dataDir, 'admin-token');
        await writeFile(file, `${token}\n`, { mode: 0o600 });
        await chmod(file, 0o600);
        options.announce(`Generated an admin operator token (shown once; also in ${file}):\n  ${token}\n`);
      },
      minCheckInIntervalMs: positiveInt(env.FLEETFORM_MIN_CHECKIN_INTERVAL_MS, 10_000),
      pollIntervalMs: positiveInt(env.FLEETFORM_GIT_POLL_MS, 1000),
      poolSize: positiveInt(env.FLEETFORM_DB_POOL_SIZE, 20),
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  let port: number;
  try {
    port = await engine.listen(options.port, options.host ?? env.FLEETFORM_HOST ?? '0.0.0.0');
  } catch (error) {
    // Port taken: stop what was started instead of leaving the engine and PostgreSQL running.
    await engine.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  log.info({ port, repo: options.repoDir, branch: options.branch, embeddedDatabase: embedded !== null }, 'fleetform engine listening');
  let stopping: Promise<void> | null = null;
  return {
    engine,
    port,
    databaseUrl,
    stop() {
      stopping ??= (async () => {
        await engine.close().catch((error: unknown) => log.error({ err: error }, 'engine shutdown failed'));
        await embedded?.stop();
        log.info('fleetform engine stopped');
      })();
      return stopping;
    },
  };
}
