// Secrets: age-encrypted values and references. Decrypted values live only in a SecretVault, in memory,
// and are revealed only by effectiveConfig. The vault never serializes what it holds.
import { createHash, createHmac } from 'node:crypto';
import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { JsonValue, SecretValue } from '../model/index.ts';
import type { SecretSources } from './secret-sources.ts';

export type SecretReference = { env: string } | { file: string };

/**
 * Resolves a `secretRef` to its value (the CLI/engine reads env or files; the core does not).
 * Return undefined when the secret does not exist. A resolver made by `secretSourceResolver` carries the
 * sources it may read (`sources`): compileSnapshot then checks every reference against them.
 */
export type SecretReferenceResolver = ((reference: SecretReference) => string | undefined | Promise<string | undefined>) & {
  readonly sources?: SecretSources;
};

/** effectiveConfig met a secret the vault does not hold (no identity given, or it failed to decrypt). */
export class SecretUnavailableError extends Error {
  readonly code = 'secret-unavailable';
  constructor(readonly data: { secret: string }) {
    super(`secret ${data.secret} is not available: compile the snapshot with the engine's age identity / secret resolver`);
    this.name = 'SecretUnavailableError';
  }
}

export function isSecretValue(value: unknown): value is SecretValue {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const record = value as Record<string, unknown>;
  if (keys[0] === 'encrypted') return typeof record.encrypted === 'string';
  if (keys[0] === 'secretRef') {
    const ref = record.secretRef as Record<string, unknown> | null;
    if (!ref || typeof ref !== 'object') return false;
    const refKeys = Object.keys(ref);
    return refKeys.length === 1 && (typeof ref.env === 'string' || typeof ref.file === 'string');
  }
  return false;
}

/** A stable key naming a secret without revealing it: the ciphertext's digest, or the reference. */
export function secretKey(secret: SecretValue): string {
  if ('encrypted' in secret) {
    return 'age:' + createHash('sha256').update(secret.encrypted.replace(/\s+/g, '')).digest('hex').slice(0, 32);
  }
  return 'env' in secret.secretRef ? `env:${secret.secretRef.env}` : `file:${secret.secretRef.file}`;
}

const REDACTED = '[SecretVault: redacted]';

/** Decrypted secrets of one snapshot, in memory only. */
export class SecretVault {
  readonly #values = new Map<string, string>();
  #hashKey: Buffer = createHash('sha256').update('fleetform/config-hash').digest();

  /** Used by compileSnapshot: records a resolved secret. */
  store(secret: SecretValue, plaintext: string): void {
    this.#values.set(secretKey(secret), plaintext);
  }

  /**
   * Used by compileSnapshot once all secrets are in: keys the config-hash digests with material no reader
   * of git has — the engine's identity. Without one (references only), the secrets themselves key it.
   * Never the ciphertexts: re-encrypting the same password must not change any config hash.
   */
  seal(identity: string | undefined): void {
    const hash = createHash('sha256').update('fleetform/config-hash\0');
    if (identity) hash.update(identity);
    else for (const value of [...new Set(this.#values.values())].sort()) hash.update('\0' + value);
    this.#hashKey = hash.digest();
  }

  has(secret: SecretValue): boolean {
    return this.#values.has(secretKey(secret));
  }

  get size(): number {
    return this.#values.size;
  }

  /** The plaintext. Only effectiveConfig should call this. */
  reveal(secret: SecretValue): string {
    const value = this.#values.get(secretKey(secret));
    if (value === undefined) throw new SecretUnavailableError({ secret: secretKey(secret) });
    return value;
  }

  /**
   * What stands for a secret in the config hash: changes when the plaintext changes, but an HMAC keyed
   * by the engine's identity, so a published hash does not let anyone test password guesses.
   */
  digest(secret: SecretValue): string {
    return 'secret:' + createHmac('sha256', this.#hashKey).update(this.reveal(secret)).digest('hex');
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** The identities of an age identity file (`age-keygen` output): comment lines start with '#'. */
export function parseAgeIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

export function ageRecipient(identity: string): Promise<string> {
  return identityToRecipient(identity);
}

/** Armored age ciphertext, as `age --armor -r …` would produce. */
export async function encryptSecret(plaintext: string, recipients: readonly string[]): Promise<string> {
  if (recipients.length === 0) throw new Error('at least one age recipient is required');
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(plaintext));
}

export class SecretFormatError extends Error {
  readonly code = 'invalid-secret';
}

/** Decodes armor (throws SecretFormatError) — checks form without any identity. */
export function decodeArmoredSecret(armored: string): Uint8Array {
  try {
    return armor.decode(armored);
  } catch (error) {
    throw new SecretFormatError(error instanceof Error ? error.message : String(error));
  }
}

export async function decryptSecret(armored: string, identities: readonly string[]): Promise<string> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  return decrypter.decrypt(decodeArmoredSecret(armored), 'text');
}

/** The SecretValue-shaped objects in a JSON value, with their paths. */
export function findSecretValues(value: JsonValue | undefined, path: (string | number)[] = []): { path: (string | number)[]; secret: SecretValue }[] {
  if (value === null || typeof value !== 'object' || value === undefined) return [];
  if (isSecretValue(value)) return [{ path, secret: value }];
  const found: { path: (string | number)[]; secret: SecretValue }[] = [];
  if (Array.isArray(value)) value.forEach((item, i) => found.push(...findSecretValues(item, [...path, i])));
  else for (const [key, item] of Object.entries(value)) found.push(...findSecretValues(item, [...path, key]));
  return found;
}
