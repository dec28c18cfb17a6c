// The composition root: the one place that reads the process environment and wires adapters.
import { runProgram } from './cli/index.ts';

export async function runCli(argv: readonly string[]): Promise<number> {
  return runProgram(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    exit: () => undefined,
  });
}
