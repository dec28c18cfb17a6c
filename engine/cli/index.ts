// The fleetform command line. Each command lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';
import { registerServe } from './serve.ts';
import { registerDevices } from './devices.ts';
import { registerValidate } from './validate.ts';
import { registerSecret } from './secret.ts';
import { registerCells } from './cells.ts';
import { registerDiff } from './diff.ts';
import { registerFmt } from './fmt.ts';
import { registerFleet } from './fleet.ts';
import { registerFirmware } from './firmware.ts';
import { registerProvision } from './provision.ts';
import { registerSimulate } from './simulate.ts';
import { registerDemo } from './demo.ts';

export type { CliContext, CommandRegistrar } from './context.ts';
export { UsageError } from './context.ts';

const registrars: CommandRegistrar[] = [
  // one line per command module
  registerServe,
  registerDevices,
  registerValidate,
  registerSecret,
  registerCells,
  registerDiff,
  registerFmt,
  registerFleet,
  registerFirmware,
  registerProvision,
  registerSimulate,
  registerDemo,
];

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('fleetform')
    .description('Declarative, git-driven control plane for fleets of connected devices')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout(s), writeErr: (s) => ctx.stderr(s) })
    .showHelpAfterError();
  for (const register of registrars) register(program, ctx);
  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function runProgram(argv: readonly string[], ctx: CliContext): Promise<number> {
  let exitCode = 0;
  const program = buildProgram({ ...ctx, exit: (code) => (exitCode = code) });
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      ctx.stderr(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
