// Device tokens issued by a server-side job reach the factory exactly once, and the database never
// holds them readable: the job carries the requester's X25519 public key; each batch of tokens is
// sealed to it (ephemeral ECDH → HKDF-SHA256 → AES-256-GCM) and kept only until the requester
// downloads and acknowledges it, then erased. Only the token's SHA-256 stays on the device row.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';

export interface DeviceCredential {
  deviceId: string;
  token: string;
}

/** One sealed batch of credentials; every field base64. */
export interface SealedCredentials {
  /** The sender's ephemeral X25519 public key (SPKI DER). */
  epk: string;
  iv: string;
  /** AES-256-GCM ciphertext followed by its 16-byte tag. */
  data: string;
}

export interface CredentialsKeyPair {
  /** SPKI DER, base64: goes with the job. */
  publicKey: string;
  /** PKCS#8 DER, base64: stays with whoever writes the credentials file. */
  privateKey: string;
}

export class CredentialsKeyError extends Error {
  readonly code = 'invalid-credentials-key';
}

const INFO = Buffer.from('fleetform provisioning credentials v1');

export function generateCredentialsKeyPair(): CredentialsKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
}

/** Checks a public key as sent with a job; throws CredentialsKeyError when it is not X25519. */
export function assertCredentialsPublicKey(publicKey: string): void {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'x25519') throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key`);
  } catch (error) {
    throw new CredentialsKeyError(`credentialsPublicKey must be an X25519 public key (SPKI DER, base64): ${(error as Error).message}`);
  }
}

function aesKey(shared: Buffer, epk: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, epk, INFO, 32));
}

export function sealCredentials(credentials: readonly DeviceCredential[], publicKey: string): SealedCredentials {
  const recipient = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  const ephemeral = generateKeyPairSync('x25519');
  const epk = ephemeral.publicKey.export({ type: 'spki', format: 'der' });
  const key = aesKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), epk);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const plain = Buffer.from(JSON.stringify(credentials.map((c) => [c.deviceId, c.token])));
  const data = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { epk: epk.toString('base64'), iv: iv.toString('base64'), data: data.toString('base64') };
}

/** Opens a sealed batch; throws CredentialsKeyError with the wrong key or a tampered batch. */
export function openCredentials(sealed: SealedCredentials, privateKey: string): DeviceCredential[] {
  try {
    const own = createPrivateKey({ key: Buffer.from(privateKey, 'base64'), format: 'der', type: 'pkcs8' });
    const epk = Buffer.from(sealed.epk, 'base64');
    const sender = createPublicKey({ key: epk, format: 'der', type: 'spki' });
    const key = aesKey(diffieHellman({ privateKey: own, publicKey: sender }), epk);
    const data = Buffer.from(sealed.data, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
    return (JSON.parse(plain.toString('utf8')) as [string, string][]).map(([deviceId, token]) => ({ deviceId, token }));
  } catch (error) {
    throw new CredentialsKeyError(`cannot open sealed credentials: ${(error as Error).message}`);
  }
}

/** The factory's file: a header, then one `id,token` line per device. */
export function credentialsCsvLines(credentials: readonly DeviceCredential[]): string {
  return credentials.map((c) => `${c.deviceId},${c.token}\n`).join('');
}
export const CREDENTIALS_CSV_HEADER = 'id,token\n';
