// Device tokens issued by a server-side job reach the factory exactly once, and the database never
// holds them readable: the job carries the requester's age recipients (X25519, `age1…`); each
// batch of tokens is sealed to them as an armored age file and kept only until the requester
// downloads and acknowledges it, then erased. Only the token's SHA-256 stays on the device row.
// age is a standard: `age -d -i key.txt batch.age` (Debian's `age`) opens a batch without
// fleetform. The plaintext is JSON Lines, one device per line: {"id":"TR-000001","token":"ffd_…"}.
import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient } from 'age-encryption';

export interface DeviceCredential {
  deviceId: string;
  token: string;
}

export class CredentialsKeyError extends Error {
  readonly code = 'invalid-credentials-key';
}

/** Recipients a job may seal to: enough for a factory, its backup and an auditor. */
export const MAX_CREDENTIALS_RECIPIENTS = 16;
/** A native X25519 age recipient: `age1` + 58 bech32 characters. Hybrid/tag recipients are refused: Debian's age 1.1 cannot open them. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Checks recipients as sent with a job; throws CredentialsKeyError naming the first bad one. */
export function assertCredentialsRecipients(recipients: readonly string[]): void {
  if (recipients.length === 0 || recipients.length > MAX_CREDENTIALS_RECIPIENTS) {
    throw new CredentialsKeyError(`credentialsRecipients must list 1 to ${MAX_CREDENTIALS_RECIPIENTS} age recipients`);
  }
  recipients.forEach((recipient, index) => {
    const shown = JSON.stringify(recipient.slice(0, 70)).replace(/[^\x20-\x7e]/g, '?');
    if (!X25519_RECIPIENT.test(recipient)) {
      throw new CredentialsKeyError(`credentialsRecipients[${index}] ${shown} is not an X25519 age recipient (age1…, as printed by age-keygen)`);
    }
    try {
      new Encrypter().addRecipient(recipient);
    } catch (error) {
      throw new CredentialsKeyError(`credentialsRecipients[${index}] ${shown} is not a valid age recipient: ${(error as Error).message}`);
    }
  });
}

/** A fresh X25519 age identity (`AGE-SECRET-KEY-1…`) and its recipient. */
export async function generateCredentialsIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The plaintext of a sealed batch: one JSON object per line. */
export function credentialsJsonLines(credentials: readonly DeviceCredential[]): string {
  return credentials.map((c) => `${JSON.stringify({ id: c.deviceId, token: c.token })}\n`).join('');
}

/** Reads credentials JSON Lines (a batch's plaintext, or a factory's file). */
export function parseCredentialsJsonLines(text: string): DeviceCredential[] {
  const out: DeviceCredential[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const value = JSON.parse(line) as { id?: unknown; token?: unknown };
    if (typeof value.id !== 'string' || typeof value.token !== 'string') throw new CredentialsKeyError('a credentials line needs string id and token');
    out.push({ deviceId: value.id, token: value.token });
  }
  return out;
}

/** Seals credentials (or any text) to age recipients: an armored age file. */
export async function sealText(plaintext: string, recipients: readonly string[]): Promise<string> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(plaintext));
}

export async function sealCredentials(credentials: readonly DeviceCredential[], recipients: readonly string[]): Promise<string> {
  return sealText(credentialsJsonLines(credentials), recipients);
}

/** Opens an age file (armored or binary); throws CredentialsKeyError with the wrong identity or a tampered file. */
export async function openText(sealed: string | Uint8Array, identities: readonly string[]): Promise<string> {
  try {
    const decrypter = new Decrypter();
    for (const identity of identities) decrypter.addIdentity(identity);
    const bytes = typeof sealed === 'string' ? armor.decode(sealed) : sealed;
    return await decrypter.decrypt(bytes, 'text');
  } catch (error) {
    throw new CredentialsKeyError(`cannot open sealed credentials: ${(error as Error).message}`);
  }
}

export async function openCredentials(sealed: string | Uint8Array, identities: readonly string[]): Promise<DeviceCredential[]> {
  return parseCredentialsJsonLines(await openText(sealed, identities));
}

/** age identities in a key file (as age-keygen writes it: comments and AGE-SECRET-KEY-1… lines). */
export function identitiesInKeyFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('AGE-SECRET-KEY-1'));
}

/** age recipients in a recipients file (as `age -R` reads it: one per line, `#` comments). */
export function recipientsInFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
