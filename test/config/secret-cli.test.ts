// `fleetform secret`: what it prints can be pasted into a site and decrypts with the engine's identity.
import { Command } from 'commander';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { registerSecret } from '../../engine/cli/secret.ts';
import { UsageError } from '../../engine/cli/context.ts';
import { ageRecipient, decryptSecret, parseAgeIdentities } from '../../engine/config/index.ts';

async function secret(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  let code = 0;
  const ctx = { stdout: (s: string) => void (stdout += s), stderr: () => undefined, env: {}, cwd: process.cwd(), exit: (c: number) => void (code = c) };
  const program = new Command('fleetform').exitOverride().configureOutput({ writeOut: ctx.stdout, writeErr: () => undefined });
  registerSecret(program, ctx);
  try {
    await program.parseAsync(['node', 'fleetform', 'secret', ...args]);
  } catch (error) {
    if (error instanceof UsageError) return { code: 2, stdout };
    throw error;
  }
  return { code, stdout };
}

describe('fleetform secret', () => {
  it('keygen → encrypt → the snippet pasted under password: decrypts to the value', async () => {
    const keygen = await secret(['keygen']);
    const [identity] = parseAgeIdentities(keygen.stdout);
    expect(identity).toMatch(/^AGE-SECRET-KEY-1/);
    const recipient = await ageRecipient(identity!);
    expect(keygen.stdout).toContain(`# public key: ${recipient}`);

    const encrypted = await secret(['encrypt', '--recipient', recipient, '--value', 'lot wifi: 7f3k']);
    expect(encrypted.code).toBe(0);
    expect(encrypted.stdout).not.toContain('7f3k');
    const site = parse(`password:\n${encrypted.stdout.split('\n').map((l) => '  ' + l).join('\n')}`) as { password: { encrypted: string } };
    expect(await decryptSecret(site.password.encrypted, [identity!])).toBe('lot wifi: 7f3k');
  });

  it('refuses to encrypt without a valid recipient (exit 2)', async () => {
    expect((await secret(['encrypt', '--value', 'x'])).code).toBe(2);
    expect((await secret(['encrypt', '--recipient', 'not-a-recipient', '--value', 'x'])).code).toBe(2);
  });
});
