// Where `provision import` keeps device credentials until the job is done, and the file it leaves
// for the factory. The engine seals each batch to a key the CLI made for this job (its identity
// waits in `<out>.parts/key.txt`, mode 600); each sealed batch is written to `<out>.parts/` and
// fsynced before it is acknowledged (which erases it on the server). When the job is complete,
// the batches are opened and the credentials written once, as one age file sealed to the
// factory's recipients (`age -d -i factory-key.txt <out>` opens it: JSON Lines, one
// {"id","token"} per device); then the parts and the key are deleted. No token is ever on disk
// unsealed, and an interrupted CLI resumes from the parts.
import { closeSync, existsSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CredentialsKeyError,
  assertCredentialsRecipients,
  credentialsJsonLines,
  generateCredentialsIdentity,
  identitiesInKeyFile,
  openCredentials,
  recipientsInFile,
  sealText,
  type DeviceCredential,
} from '../provisioning/index.ts';
import { UsageError } from './context.ts';

function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class CredentialsSpool {
  private constructor(
    readonly out: string,
    readonly dir: string,
    private readonly identity: string,
    /** The key the engine seals this job's batches to. */
    readonly recipient: string,
    /** The factory's: the final file is sealed to them. */
    readonly recipients: readonly string[],
  ) {}

  /** A new spool for `out` (refuses to overwrite a credentials file or another import's parts). */
  static async create(out: string, recipients: readonly string[]): Promise<CredentialsSpool> {
    if (existsSync(out)) throw new UsageError(`${out} exists: credentials are written once; choose another --credentials-out`);
    const dir = `${out}.parts`;
    if (existsSync(dir)) throw new UsageError(`${dir} exists: another import is collecting into it (finish it with provision resume JOB --credentials-out ${out})`);
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    const { identity, recipient } = await generateCredentialsIdentity();
    writeDurably(join(dir, 'key.txt'), `# fleetform provision: this job's batches, until ${out} is written\n# public key: ${recipient}\n${identity}\n`);
    writeDurably(join(dir, 'recipients.txt'), `${recipients.join('\n')}\n`);
    syncDirectory(dir);
    return new CredentialsSpool(out, dir, identity, recipient, recipients);
  }

  /** The spool an earlier `provision import` left (a job being resumed). */
  static async reopen(out: string): Promise<CredentialsSpool> {
    const dir = `${out}.parts`;
    let key: string;
    let recipients: string;
    try {
      key = await readFile(join(dir, 'key.txt'), 'utf8');
      recipients = await readFile(join(dir, 'recipients.txt'), 'utf8');
    } catch {
      throw new UsageError(`${dir} not found: a job's credentials are collected into the parts provision import started for it`);
    }
    const identity = identitiesInKeyFile(key)[0];
    const recipient = /# public key: (age1\S+)/.exec(key)?.[1];
    if (!identity || !recipient) throw new UsageError(`${join(dir, 'key.txt')} holds no age identity`);
    return new CredentialsSpool(out, dir, identity, recipient, recipientsInFile(recipients));
  }

  private partName(batchId: string): string {
    return join(this.dir, `${batchId.padStart(12, '0')}.age`);
  }

  /** Writes sealed batches to disk (fsynced) before the caller acknowledges them; a batch already there is kept. */
  store(batches: readonly { id: string; sealed: string }[]): void {
    for (const batch of batches) {
      if (!/^\d{1,18}$/.test(batch.id)) throw new Error(`unexpected credentials batch id ${JSON.stringify(batch.id.slice(0, 40))}`);
      const path = this.partName(batch.id);
      if (!existsSync(path)) writeDurably(path, batch.sealed);
    }
    syncDirectory(this.dir);
  }

  private async credentials(): Promise<DeviceCredential[]> {
    const byId = new Map<string, DeviceCredential>();
    for (const name of (await readdir(this.dir)).filter((n) => n.endsWith('.age')).sort()) {
      for (const credential of await openCredentials(await readFile(join(this.dir, name), 'utf8'), [this.identity])) byId.set(credential.deviceId, credential);
    }
    return [...byId.values()];
  }

  /** Seals every collected credential to the factory's recipients into `out` (mode 600), then deletes the parts and the key. Returns how many. */
  async finish(): Promise<number> {
    const credentials = await this.credentials();
    const sealed = await sealText(credentialsJsonLines(credentials), this.recipients);
    const temporary = `${this.out}.tmp`;
    await rm(temporary, { force: true });
    writeDurably(temporary, sealed);
    await rename(temporary, this.out);
    await rm(this.dir, { recursive: true, force: true });
    return credentials.length;
  }

  /** Nothing was created on the server: leave nothing behind. */
  async discard(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The factory's recipients from --recipient and --recipients-file (age's -r / -R). */
export async function factoryRecipients(flags: { recipient?: string[]; recipientsFile?: string }, resolvePath: (p: string) => string): Promise<string[]> {
  const recipients = [...(flags.recipient ?? [])];
  if (flags.recipientsFile) {
    try {
      recipients.push(...recipientsInFile(await readFile(resolvePath(flags.recipientsFile), 'utf8')));
    } catch (error) {
      throw new UsageError(`--recipients-file: cannot read ${flags.recipientsFile}: ${(error as Error).message}`);
    }
  }
  if (recipients.length === 0) {
    throw new UsageError('credentials are sealed for the factory: pass --recipient age1… or --recipients-file FILE (age-keygen -o factory-key.txt prints the recipient)');
  }
  try {
    assertCredentialsRecipients(recipients);
  } catch (error) {
    if (error instanceof CredentialsKeyError) throw new UsageError(`--recipient: ${error.message.replace(/^credentialsRecipients/, 'recipient ')}`);
    throw error;
  }
  return recipients;
}

