// Runs the fleetform command line in-process, capturing its output and exit code.
import { runProgram } from '../../engine/cli/index.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function fleetform(cwd: string, ...args: string[]): Promise<CliRun> {
  return fleetformWith({}, cwd, ...args);
}

/** The same with an environment (e.g. FLEETFORM_SECRET_ENV_PREFIX). */
export async function fleetformWith(env: Record<string, string>, cwd: string, ...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runProgram(['node', 'fleetform', ...args], {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env,
    cwd,
    exit: () => undefined,
  });
  return { code, stdout, stderr };
}
