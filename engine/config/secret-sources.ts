// Where a secretRef may point: the secret sources the engine was started with. A config author names a
// secret from those sources, never any other environment variable or file of the engine host
// (`/proc/self/environ`, the admin token, the age identity). The policy is data and its check is pure, so
// `fleetform validate` in CI and the engine judge a commit alike; reading a source goes through the
// SecretSourceAccess the composition root passes in.
import { isAbsolute, join, relative } from 'node:path';
import type { SecretReference, SecretReferenceResolver } from './secrets.ts';

export interface SecretSources {
  /** Environment variables whose name starts with one of these (and is longer than it). */
  readonly envPrefixes: readonly string[];
  /** Environment variables allowed by exact name. */
  readonly envNames: readonly string[];
  /** `{file}` references are relative paths under this directory; null: no file references at all. */
  readonly dir: string | null;
}

export const DEFAULT_SECRET_ENV_PREFIX = 'FLEETFORM_SECRET_';

/** What an engine started without secret-source flags may read: `FLEETFORM_SECRET_*` variables, no files. */
export const DEFAULT_SECRET_SOURCES: SecretSources = Object.freeze({
  envPrefixes: Object.freeze([DEFAULT_SECRET_ENV_PREFIX]),
  envNames: Object.freeze([]),
  dir: null,
});

/** The environment variables that set the secret sources themselves (they are settings, not secrets). */
export const SECRET_SOURCE_SETTINGS = ['FLEETFORM_SECRET_ENV_PREFIX', 'FLEETFORM_SECRET_ENV', 'FLEETFORM_SECRET_DIR'] as const;

/** Largest secret file the engine reads (a password or a key is bytes, not megabytes). */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The engine's own settings are never secret sources, whatever the prefixes say: every other `FLEETFORM_*`
 * variable (the admin token, the identity file), the database URL and libpq's `PG*` variables.
 */
export function isEngineSetting(name: string): boolean {
  if ((SECRET_SOURCE_SETTINGS as readonly string[]).includes(name)) return true;
  if (name.startsWith('FLEETFORM_')) return !name.startsWith(DEFAULT_SECRET_ENV_PREFIX);
  return name === 'DATABASE_URL' || /^PG[A-Z]+$/.test(name);
}

/** A bad secret-source setting (flag or environment variable): the engine or CLI refuses to start. */
export class SecretSourcesError extends Error {
  readonly code = 'invalid-secret-sources';
  constructor(message: string) {
    super(message);
    this.name = 'SecretSourcesError';
  }
}

/** Checks and freezes a policy from flags / environment values (already split into lists). */
export function parseSecretSources(input: { envPrefixes?: readonly string[]; envNames?: readonly string[]; dir?: string | null }): SecretSources {
  const envPrefixes = [...new Set(input.envPrefixes ?? DEFAULT_SECRET_SOURCES.envPrefixes)];
  const envNames = [...new Set(input.envNames ?? [])];
  for (const prefix of envPrefixes) {
    if (!ENV_NAME.test(prefix) || prefix.length < 2) {
      throw new SecretSourcesError(`secret env prefix '${prefix}' is not the start of an environment variable name (letters, digits, '_'; at least 2 characters)`);
    }
  }
  for (const name of envNames) {
    if (!ENV_NAME.test(name)) throw new SecretSourcesError(`secret env '${name}' is not an environment variable name`);
    if (isEngineSetting(name)) throw new SecretSourcesError(`${name} is one of the engine's own settings, never a secret source`);
  }
  const dir = input.dir ?? null;
  if (dir !== null) {
    if (dir.trim() === '') throw new SecretSourcesError('the secret directory is empty');
    if (!isAbsolute(dir)) throw new SecretSourcesError(`the secret directory must be an absolute path (got '${dir}')`);
    if (relative('/', dir) === '') throw new SecretSourcesError('the secret directory may not be / (that is every file of the host)');
  }
  return Object.freeze({ envPrefixes: Object.freeze(envPrefixes), envNames: Object.freeze(envNames), dir });
}

/** The declared sources in words, for messages: `env FLEETFORM_SECRET_*; files under the secret directory`. */
export function describeSecretSources(sources: SecretSources): string {
  const env = [...sources.envPrefixes.map((prefix) => `${prefix}*`), ...sources.envNames];
  const parts = [env.length > 0 ? `env ${env.join(', ')}` : 'no environment variables'];
  parts.push(sources.dir === null ? 'no files (no --secret-dir)' : 'files under the secret directory');
  return parts.join('; ');
}

/** Why a reference is outside the declared sources, or null when it is inside. Pure: reads nothing. */
export function secretSourceRefusal(reference: SecretReference, sources: SecretSources): string | null {
  if ('env' in reference) {
    const name = reference.env;
    if (!ENV_NAME.test(name)) return `'${name}' is not an environment variable name`;
    if (isEngineSetting(name)) return `environment variable ${name} is one of the engine's own settings, never a secret source`;
    const declared = sources.envNames.includes(name) || sources.envPrefixes.some((prefix) => name.length > prefix.length && name.startsWith(prefix));
    if (!declared) return `environment variable ${name} is not a declared secret source (the engine reads ${describeSecretSources(sources)})`;
    return null;
  }
  const path = reference.file;
  if (sources.dir === null) return `file ${path}: the engine declares no secret directory (start it with --secret-dir DIR)`;
  if (path === '' || path.includes('\0') || path.includes('\\')) return `file reference '${path}' is not a path under the secret directory`;
  if (path.startsWith('/') || isAbsolute(path)) return `file ${path}: absolute paths are not allowed; name a file relative to the secret directory`;
  const segments = path.split('/');
  if (segments.some((segment) => segment === '..')) return `file ${path}: '..' may not leave the secret directory`;
  if (segments.some((segment) => segment === '' || segment === '.')) return `file ${path}: empty or '.' path segments are not allowed`;
  return null;
}

/** A reference outside the declared sources (a content problem: the commit must change). */
export class SecretSourceRefusedError extends Error {
  readonly code = 'secret-source-not-allowed';
  constructor(message: string) {
    super(message);
    this.name = 'SecretSourceRefusedError';
  }
}

/** How the resolver reads the world; main.ts passes process.env and node:fs/promises. */
export interface SecretSourceAccess {
  env: Readonly<Record<string, string | undefined>>;
  /** fs.promises.realpath: symbolic links resolved. */
  realpath(path: string): Promise<string>;
  /** fs.promises.stat (follows links). */
  stat(path: string): Promise<{ isFile(): boolean; size: number }>;
  readFile(path: string): Promise<string>;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A resolver that reads only the declared sources. It carries the policy (`resolver.sources`), so
 * compileSnapshot checks every reference against it with file:line:col before asking; the resolver checks
 * again, and a file whose real path (symbolic links resolved) leaves the directory is refused.
 * Returns undefined when the variable is unset or the file does not exist (`secret-unresolved`).
 */
export function secretSourceResolver(sources: SecretSources, access: SecretSourceAccess): SecretReferenceResolver {
  const resolve = async (reference: SecretReference): Promise<string | undefined> => {
    const refusal = secretSourceRefusal(reference, sources);
    if (refusal) throw new SecretSourceRefusedError(refusal);
    if ('env' in reference) return access.env[reference.env];
    const dir = sources.dir as string;
    let root: string;
    try {
      root = await access.realpath(dir);
    } catch (error) {
      throw new Error(`the secret directory cannot be read (${errorCode(error) ?? 'error'})`);
    }
    let real: string;
    try {
      real = await access.realpath(join(root, reference.file));
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined;
      throw new Error(`file ${reference.file} cannot be read (${errorCode(error) ?? 'error'})`);
    }
    const inside = relative(root, real);
    if (inside === '' || inside === '..' || inside.startsWith('../') || isAbsolute(inside)) {
      throw new SecretSourceRefusedError(`file ${reference.file} resolves outside the secret directory (a symbolic link out of it)`);
    }
    const info = await access.stat(real);
    if (!info.isFile()) throw new SecretSourceRefusedError(`file ${reference.file} is not a regular file`);
    if (info.size > MAX_SECRET_FILE_BYTES) throw new Error(`file ${reference.file} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    // `echo pw > file` adds a newline that is not part of the secret.
    return (await access.readFile(real)).replace(/\r?\n$/, '');
  };
  return Object.assign(resolve, { sources });
}

/** Where a secret comes from, in words that name the source and never the value: `env X`, `file a/b`, `age-encrypted`. */
export function describeSecretSource(secret: { encrypted: string } | { secretRef: SecretReference }): string {
  if ('encrypted' in secret) return 'age-encrypted';
  return 'env' in secret.secretRef ? `env ${secret.secretRef.env}` : `file ${secret.secretRef.file}`;
}
