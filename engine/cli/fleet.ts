// `fleetform fleet export`: the engine's devices and their last reported firmware as a fleet file
// (JSON Lines), the input of `fleetform diff --fleet`. Also the reader behind `diff --database-url`.
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { FleetDevice } from '../review/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

/** Every registered device, ordered by id. */
export async function readFleetFromDatabase(url: string): Promise<FleetDevice[]> {
  const { FleetStore } = await import('../store/index.ts');
  const { readFleetDevices } = await import('../service/fleet-devices.ts');
  let store;
  try {
    store = await FleetStore.open({ url, poolSize: 2 });
  } catch (error) {
    throw new UsageError(`cannot open the engine database: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return await readFleetDevices(store, null);
  } finally {
    await store.close();
  }
}

export function databaseUrl(flag: string | undefined, ctx: CliContext): string | undefined {
  return flag ?? ctx.env.DATABASE_URL;
}

async function runExport(flags: { databaseUrl?: string; out?: string }, ctx: CliContext): Promise<void> {
  const url = databaseUrl(flags.databaseUrl, ctx);
  if (!url) throw new UsageError('fleet export needs the engine database: --database-url URL or DATABASE_URL');
  const devices = await readFleetFromDatabase(url);
  const lines = devices.map((device) => JSON.stringify(device) + '\n');
  if (!flags.out) {
    for (const line of lines) ctx.stdout(line);
  } else {
    const out = createWriteStream(resolve(ctx.cwd, flags.out));
    await new Promise<void>((done, fail) => {
      out.on('error', fail);
      for (const line of lines) out.write(line);
      out.end(done);
    });
    ctx.stderr(`${devices.length} devices written to ${flags.out}\n`);
  }
  ctx.exit(0);
}

export const registerFleet: CommandRegistrar = (program: Command, ctx: CliContext) => {
  const fleet = program.command('fleet').description('The fleet as the engine knows it');
  fleet
    .command('export')
    .description('Write every device (id, profile, site, labels, reported firmware) as JSON Lines, for fleetform diff --fleet')
    .option('--database-url <url>', 'engine database (default: DATABASE_URL)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((flags: { databaseUrl?: string; out?: string }) => runExport(flags, ctx));
};
