// Secrets stay secret: only age ciphertext or references in git, decrypted into a vault that never serializes.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  compileSnapshot,
  decryptSecret,
  encryptSecret,
  generateAgeIdentity,
  type SecretReference,
} from '../../engine/config/index.ts';
import { DEMO_IDENTITY, DEMO_RECIPIENT, exampleFleetTree, fleetWith } from './fixtures.ts';
import { expectIssue } from './support.ts';

const siteWith = (password: string): string => `apiVersion: fleetform/v1
kind: Site
metadata: { name: lot-a }
spec:
  tenant: acme
  timezone: UTC
  wifi:
    - ssid: Lot-A
      password: ${password}
`;

describe('age secrets', () => {
  it('round-trips: armored ciphertext decrypts to the plaintext with the matching identity', async () => {
    const { identity, recipient } = await generateAgeIdentity();
    const armored = await encryptSecret('p@ss: wörd\nwith a newline', [recipient]);
    expect(armored.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')).toBe(true);
    expect(armored).not.toContain('wörd');
    expect(await decryptSecret(armored, [identity])).toBe('p@ss: wörd\nwith a newline');
  });

  it('the demo identity decrypts what is encrypted to the demo recipient', async () => {
    const armored = await encryptSecret('demo', [DEMO_RECIPIENT]);
    expect(await decryptSecret(armored, [DEMO_IDENTITY.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'))[0]!])).toBe('demo');
  });

  it('reports a secret the given identity cannot decrypt at its file and line', async () => {
    const stranger = await generateAgeIdentity();
    const armored = await encryptSecret('not for the engine', [stranger.recipient]);
    const { snapshot, issues, secrets } = await compileSnapshot(
      fleetWith({ 'fleet-config/sites/lot-a.yaml': siteWith(`{ encrypted: ${JSON.stringify(armored)} }`) }),
      { identity: DEMO_IDENTITY },
    );
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'secret-decrypt-failed', file: 'fleet-config/sites/lot-a.yaml', line: 9, path: '/spec/wifi/0/password' });
    expect(secrets.size).toBe(0);
  });

  it('without an identity checks form only: the same tree compiles', async () => {
    const stranger = await generateAgeIdentity();
    const armored = await encryptSecret('not for the engine', [stranger.recipient]);
    const { snapshot, issues } = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': siteWith(`{ encrypted: ${JSON.stringify(armored)} }`) }));
    expect(issues).toEqual([]);
    expect(snapshot).not.toBeNull();
  });

  it('rejects plaintext whatever its YAML type', async () => {
    for (const password of ['hunter2', '12345678', '"quoted"']) {
      const { issues } = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': siteWith(password) }));
      expectIssue(issues, { code: 'plaintext-secret', file: 'fleet-config/sites/lot-a.yaml', line: 9 });
    }
  });
});

describe('secret references', () => {
  it('are resolved by the caller-provided resolver, and a missing one is an issue', async () => {
    const asked: SecretReference[] = [];
    const resolveReference = (ref: SecretReference): string | undefined => {
      asked.push(ref);
      return 'env' in ref && ref.env === 'FLEETFORM_SECRET_LOT_A_WIFI' ? 'from-the-engine' : undefined;
    };
    const ok = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': siteWith('{ secretRef: { env: FLEETFORM_SECRET_LOT_A_WIFI } }') }), { resolveReference });
    expect(ok.issues).toEqual([]);
    expect(ok.secrets.size).toBe(1);
    expect(asked).toEqual([{ env: 'FLEETFORM_SECRET_LOT_A_WIFI' }]);

    const missing = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-a.yaml': siteWith('{ secretRef: { env: FLEETFORM_SECRET_MISSING } }') }), {
      resolveReference,
    });
    expectIssue(missing.issues, { code: 'secret-unresolved', file: 'fleet-config/sites/lot-a.yaml', line: 9 });
  });
});

describe('the vault', () => {
  it('never shows what it holds: JSON, string and inspect are redacted', async () => {
    const { secrets } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY });
    expect(secrets.size).toBeGreaterThan(0);
    for (const text of [JSON.stringify({ secrets }), String(secrets), inspect(secrets, { showHidden: true, depth: 5 })]) {
      expect(text).toContain('redacted');
      expect(text).not.toMatch(/lot-wifi|garage-level|boulder-lot|service-bay/);
    }
  });
});
