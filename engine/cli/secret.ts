// `fleetform secret`: helps authors put secrets in git — encrypted to the engine's age recipient, never plaintext.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import {
  DEFAULT_SECRET_ENV_PREFIX,
  SecretSourcesError,
  ageRecipient,
  encryptSecret,
  generateAgeIdentity,
  parseAgeIdentities,
  parseSecretSources,
  type SecretSources,
} from '../config/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

interface EncryptFlags {
  recipient?: string[];
  recipientFile?: string;
  value?: string;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The YAML a site or profile takes, indented for `password:` or any x-secret field. */
export function secretSnippet(armored: string): string {
  return 'encrypted: |\n' + armored.trimEnd().split('\n').map((line) => '  ' + line).join('\n') + '\n';
}

async function recipientsOf(flags: EncryptFlags): Promise<string[]> {
  const recipients = [...(flags.recipient ?? [])];
  if (flags.recipientFile) {
    const text = await readFile(flags.recipientFile, 'utf8').catch((error: unknown) => {
      throw new UsageError(`--recipient-file: cannot read ${flags.recipientFile}: ${error instanceof Error ? error.message : String(error)}`);
    });
    recipients.push(...parseAgeIdentities(text));
  }
  if (recipients.length === 0) throw new UsageError('give at least one --recipient age1… (or --recipient-file)');
  for (const recipient of recipients) {
    if (!/^age1[0-9a-z]+$/.test(recipient)) throw new UsageError(`not an age recipient: ${recipient}`);
  }
  return recipients;
}

export const registerSecret: CommandRegistrar = (program: Command, ctx: CliContext) => {
  const secret = program.command('secret').description('Encrypt secrets for the config repo (age)');
  secret
    .command('encrypt')
    .description('Encrypt a value (from --value or stdin) to age recipients; prints the YAML to paste')
    .option('--recipient <age1…>', 'age recipient (repeatable)', (value: string, all: string[] = []) => [...all, value])
    .option('--recipient-file <file>', 'file with one age recipient per line')
    .option('--value <value>', 'the secret (prefer stdin: a flag stays in shell history)')
    .action(async (flags: EncryptFlags) => {
      const recipients = await recipientsOf(flags);
      // `echo pw | fleetform secret encrypt` adds a newline that is not part of the password.
      const value = flags.value ?? (await readStdin()).replace(/\r?\n$/, '');
      if (value === '') throw new UsageError('the secret is empty');
      let armored: string;
      try {
        armored = await encryptSecret(value, recipients);
      } catch (error) {
        throw new UsageError(`cannot encrypt: ${error instanceof Error ? error.message : String(error)}`);
      }
      ctx.stdout(secretSnippet(armored));
    });
  secret
    .command('keygen')
    .description('Generate an age identity for the engine (prints it with its public key); keep it out of git')
    .action(async () => {
      const { identity, recipient } = await generateAgeIdentity();
      ctx.stdout(`# public key: ${recipient}\n${identity}\n`);
    });
  secret
    .command('recipient')
    .description('Print the public key (age1…) of an age identity file')
    .argument('<identity-file>')
    .action(async (file: string) => {
      const text = await readFile(file, 'utf8').catch(() => {
        throw new UsageError(`cannot read ${file}`);
      });
      for (const identity of parseAgeIdentities(text)) ctx.stdout((await ageRecipient(identity)) + '\n');
    });
};

// ── the secret sources a secretRef may name: one set of flags for serve, validate and diff ──

export interface SecretSourceFlags {
  secretEnvPrefix?: string[];
  secretEnv?: string[];
  secretDir?: string;
}

const repeat = (value: string, all: string[] = []): string[] => [...all, value];

/** Adds --secret-env-prefix, --secret-env and --secret-dir to a command. */
export function addSecretSourceOptions(command: Command): Command {
  return command
    .option(
      '--secret-env-prefix <prefix>',
      `a secretRef may name environment variables starting with this (repeatable; default ${DEFAULT_SECRET_ENV_PREFIX}; env FLEETFORM_SECRET_ENV_PREFIX, comma-separated)`,
      repeat,
    )
    .option('--secret-env <name>', 'a secretRef may name this environment variable (repeatable; env FLEETFORM_SECRET_ENV, comma-separated)', repeat)
    .option('--secret-dir <dir>', 'a secretRef {file} is a path under this directory (env FLEETFORM_SECRET_DIR); without it, no file references');
}

function commaList(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** The policy from the flags, else the environment, else the default (FLEETFORM_SECRET_* variables, no files). */
export function secretSourcesOf(flags: SecretSourceFlags, ctx: Pick<CliContext, 'env' | 'cwd'>): SecretSources {
  const dir = flags.secretDir ?? (ctx.env.FLEETFORM_SECRET_DIR || undefined);
  const envPrefixes = flags.secretEnvPrefix ?? commaList(ctx.env.FLEETFORM_SECRET_ENV_PREFIX);
  const envNames = flags.secretEnv ?? commaList(ctx.env.FLEETFORM_SECRET_ENV);
  try {
    return parseSecretSources({
      ...(envPrefixes ? { envPrefixes } : {}),
      ...(envNames ? { envNames } : {}),
      dir: dir === undefined ? null : isAbsolute(dir) ? dir : resolve(ctx.cwd, dir),
    });
  } catch (error) {
    if (error instanceof SecretSourcesError) throw new UsageError(error.message);
    throw error;
  }
}
