// `fleetform serve`: the engine, following the tracked branch of the config repo.
import { Option } from 'commander';
import type { CommandRegistrar } from './context.ts';
import { UsageError } from './context.ts';
import { isConnectionFailure } from '../store/errors.ts';
import { addSecretSourceOptions, secretSourcesOf, type SecretSourceFlags } from './secret.ts';

interface ServeFlags extends SecretSourceFlags {
  repo?: string;
  branch: string;
  port: string;
  dataDir: string;
  ageIdentity?: string;
  carrier?: string;
}

export const registerServe: CommandRegistrar = (program, ctx) => {
  addSecretSourceOptions(program.command('serve'))
    .description('Run the engine: follow the branch, answer device check-ins, serve the operator API')
    .option('--repo <dir>', 'config repository (default: the git repository of the current directory)')
    .option('--branch <name>', 'branch to follow', 'main')
    .addOption(new Option('--port <port>', 'HTTP port').default('8080').env('PORT'))
    .option('--data-dir <dir>', 'data directory (embedded PostgreSQL, admin token)', '.fleetform')
    .option('--age-identity <file>', 'age identity file that decrypts secrets in git')
    .option('--carrier <file>', 'carrier file: SIM activation for provisioning jobs, docs/provisioning.md (or FLEETFORM_CARRIER_FILE)')
    .action(async (flags: ServeFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: not a port: ${flags.port}`);
      const secretSources = secretSourcesOf(flags, ctx);
      // Lazy: the composition root imports the CLI; importing it back at load time would be a cycle.
      const { startServe } = await import('../main.ts');
      const { locateRepository } = await import('../git/index.ts');
      const repoDir = flags.repo ?? (await findRepository(ctx.cwd, locateRepository));
      let running: Awaited<ReturnType<typeof startServe>>;
      try {
        running = await startServe({
          repoDir,
          branch: flags.branch,
          port,
          dataDir: flags.dataDir,
          ...(flags.ageIdentity ? { ageIdentityFile: flags.ageIdentity } : {}),
          secretSources,
          ...(flags.carrier ? { carrierFile: flags.carrier } : {}),
          env: ctx.env,
          cwd: ctx.cwd,
          announce: (text) => ctx.stdout(text),
        });
      } catch (error) {
        const reason = startFailure(error, port, flags.ageIdentity ?? ctx.env.FLEETFORM_AGE_IDENTITY_FILE);
        if (!reason) throw error;
        ctx.stderr(`error: ${reason}\n`);
        ctx.exit(1);
        return;
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.stop().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
};

/** A start that failed for a reason the user can fix, said in one line; null for anything else. */
function startFailure(error: unknown, port: number, identityFile: string | undefined): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'invalid-carrier-config' || code === 'carrier-secret-missing' || code === 'carrier-file-unreadable') return (error as Error).message;
  if (code === 'EADDRINUSE') return `port ${port} is already in use; pass --port`;
  if (code === 'EACCES') return `not allowed to listen on port ${port}; pass --port`;
  if (code === 'ENOENT' && identityFile) return `cannot read the age identity ${identityFile}: no such file`;
  if (code === 'data-dir-unreachable') return (error as Error).message;
  if (isConnectionFailure(error)) return `cannot reach the database: ${(error as Error).message}; check DATABASE_URL`;
  return null;
}

/** The repository the command is started in: the nearest parent with a .git. */
async function findRepository(cwd: string, locate: (dir: string) => Promise<{ dir: string }>): Promise<string> {
  const { dirname } = await import('node:path');
  let dir = cwd;
  for (;;) {
    try {
      return (await locate(dir)).dir;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) throw new UsageError(`${cwd} is not inside a git repository; pass --repo`);
      dir = parent;
    }
  }
}
