// What every command is given: where to write, the environment, and how to report its exit code.
import type { Command } from 'commander';

export interface CliContext {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Set the process exit code: 0 ok, 1 invalid input found, 2 usage error, 3 policy failure (diff --fail-on). */
  exit(code: number): void;
}

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

/** A usage error detected after flag parsing (a bad flag value): exit 2 with the message. */
export class UsageError extends Error {
  readonly code = 'usage';
}
