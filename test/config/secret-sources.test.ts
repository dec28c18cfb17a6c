// Issue 14, item 2: a config author names secrets from the sources the engine was started with, never any
// other environment variable or file of the engine host. The same check in validate and in the engine.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SECRET_SOURCES,
  compileSnapshot,
  encryptSecret,
  generateAgeIdentity,
  isEnvironmentalIssue,
  onlyEnvironmentalErrors,
  parseSecretSources,
  secretSourceResolver,
  SecretSourcesError,
  type SecretReference,
  type SecretSourceAccess,
  type SecretSources,
} from '../../engine/config/index.ts';
import { DEMO_IDENTITY, DEMO_RECIPIENT, fleetWith } from './fixtures.ts';
import { expectIssue } from './support.ts';

const SITE = 'fleet-config/sites/lot-a.yaml';

/** Site lot-a with one Wi-Fi network whose password is the given YAML; the password is on line 9. */
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

let secretDir: string;
let outside: string;
const ENV = { FLEETFORM_SECRET_LOT_A: 'lot-a-password', FLEETFORM_ADMIN_TOKEN: 'ffo_admin', LOT_A_WIFI: 'outside-the-prefix' };

/** The engine's resolver over the real file system, recording what it was asked to read. */
function resolverFor(sources: SecretSources, env: Record<string, string> = ENV): { resolve: ReturnType<typeof secretSourceResolver>; read: string[] } {
  const read: string[] = [];
  const access: SecretSourceAccess = {
    env,
    realpath: (path) => realpath(path),
    stat: (path) => stat(path),
    readFile: (path) => {
      read.push(path);
      return readFile(path, 'utf8');
    },
  };
  return { resolve: secretSourceResolver(sources, access), read };
}

beforeAll(() => {
  secretDir = realpathSync(mkdtempSync(join(tmpdir(), 'fleetform-secrets-')));
  mkdirSync(join(secretDir, 'wifi'));
  writeFileSync(join(secretDir, 'wifi', 'lot-a'), 'from-the-secret-dir\n');
  symlinkSync(join(secretDir, 'wifi', 'lot-a'), join(secretDir, 'wifi', 'alias')); // inside: fine
  outside = join(mkdtempSync(join(tmpdir(), 'fleetform-outside-')), 'engine-identity.txt');
  writeFileSync(outside, 'AGE-SECRET-KEY-NOT-FOR-DEVICES\n');
  symlinkSync(outside, join(secretDir, 'wifi', 'escape')); // out of the directory: refused
  mkdirSync(join(secretDir, 'fifo-dir'));
});

afterAll(() => {
  if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  if (outside) rmSync(join(outside, '..'), { recursive: true, force: true });
});

describe('the attacks of the security review are validation errors at the reference', () => {
  const attacks = ['{ secretRef: { file: /proc/self/environ } }', '{ secretRef: { file: ../../../../etc/shadow } }', '{ secretRef: { env: FLEETFORM_ADMIN_TOKEN } }', '{ secretRef: { file: demo/age-identity.txt } }'];

  it('with the default sources (FLEETFORM_SECRET_* variables, no files), validate refuses each, naming file:line:col', async () => {
    for (const attack of attacks) {
      const { snapshot, issues } = await compileSnapshot(fleetWith({ [SITE]: siteWith(attack) }));
      expect(snapshot, attack).toBeNull();
      expectIssue(issues, { code: 'secret-source-not-allowed', file: SITE, line: 9, column: 17, path: '/spec/wifi/0/password' });
    }
  });

  it('the engine refuses them too, before reading anything, even with a secret directory declared', async () => {
    const { resolve, read } = resolverFor(parseSecretSources({ dir: secretDir }));
    for (const attack of attacks.slice(0, 3)) {
      const { snapshot, issues, secrets } = await compileSnapshot(fleetWith({ [SITE]: siteWith(attack) }), { resolveReference: resolve });
      expect(snapshot, attack).toBeNull();
      expectIssue(issues, { code: 'secret-source-not-allowed', file: SITE, line: 9 });
      expect(secrets.size).toBe(0);
    }
    // demo/age-identity.txt names a file under the secret directory, not the repository's identity: not there.
    const identity = await compileSnapshot(fleetWith({ [SITE]: siteWith(attacks[3] ?? '') }), { resolveReference: resolve });
    expectIssue(identity.issues, { code: 'secret-unresolved', file: SITE, line: 9 });
    expect(read).toEqual([]);
  });

  it('an engine setting stays out of reach whatever prefix is declared', async () => {
    const { resolve } = resolverFor(parseSecretSources({ envPrefixes: ['FLEETFORM_'] }));
    for (const name of ['FLEETFORM_ADMIN_TOKEN', 'FLEETFORM_AGE_IDENTITY_FILE', 'FLEETFORM_SECRET_DIR', 'DATABASE_URL', 'PGPASSWORD']) {
      const { issues } = await compileSnapshot(fleetWith({ [SITE]: siteWith(`{ secretRef: { env: ${name} } }`) }), { resolveReference: resolve });
      expectIssue(issues, { code: 'secret-source-not-allowed', file: SITE, line: 9 });
    }
  });

  it('a symbolic link in the secret directory that points out of it is refused; one that stays inside is read', async () => {
    const { resolve } = resolverFor(parseSecretSources({ dir: secretDir }));
    const escape = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { file: wifi/escape } }') }), { resolveReference: resolve });
    const refused = expectIssue(escape.issues, { code: 'secret-source-not-allowed', file: SITE, line: 9 });
    expect(refused.message).toContain('outside the secret directory');
    expect(refused.message).not.toContain('AGE-SECRET-KEY');
    expect(escape.secrets.size).toBe(0);

    const alias = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { file: wifi/alias } }') }), { resolveReference: resolve });
    expect(alias.issues).toEqual([]);
    expect(alias.secrets.size).toBe(1);
  });

  it('a directory is not a secret', async () => {
    const { resolve } = resolverFor(parseSecretSources({ dir: secretDir }));
    const { issues } = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { file: fifo-dir } }') }), { resolveReference: resolve });
    expectIssue(issues, { code: 'secret-source-not-allowed', file: SITE, line: 9 });
  });
});

describe('declared sources are read', () => {
  it('an environment variable with the declared prefix, and a file under the secret directory (final newline dropped)', async () => {
    const { resolve } = resolverFor(parseSecretSources({ dir: secretDir }));
    const revealed: string[] = [];
    for (const ref of ['{ secretRef: { env: FLEETFORM_SECRET_LOT_A } }', '{ secretRef: { file: wifi/lot-a } }']) {
      const { snapshot, issues, secrets } = await compileSnapshot(fleetWith({ [SITE]: siteWith(ref) }), { resolveReference: resolve });
      expect(issues).toEqual([]);
      const site = snapshot?.sites.get('lot-a');
      const password = site?.spec.wifi?.[0]?.password;
      if (password) revealed.push(secrets.reveal(password));
    }
    expect(revealed).toEqual(['lot-a-password', 'from-the-secret-dir']);
  });

  it('other prefixes and exact names when the engine declares them; the default prefix is then not implied', async () => {
    const sources = parseSecretSources({ envPrefixes: ['LOT_'], envNames: ['SHARED_WIFI'] });
    const { resolve } = resolverFor(sources, { LOT_A_WIFI: 'a', SHARED_WIFI: 'b', FLEETFORM_SECRET_LOT_A: 'c' });
    for (const [name, code] of [['LOT_A_WIFI', null], ['SHARED_WIFI', null], ['FLEETFORM_SECRET_LOT_A', 'secret-source-not-allowed']] as const) {
      const { issues } = await compileSnapshot(fleetWith({ [SITE]: siteWith(`{ secretRef: { env: ${name} } }`) }), { resolveReference: resolve });
      expect(issues.map((i) => i.code), name).toEqual(code ? [code] : []);
    }
    // validate (no resolver) judges by the same policy when given it.
    const { issues } = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { env: OTHER } }') }), { secretSources: sources });
    expectIssue(issues, { code: 'secret-source-not-allowed', file: SITE, line: 9 });
  });

  it('bad settings are refused at start: an empty or malformed prefix, an engine setting by name, a relative or root directory', () => {
    for (const input of [{ envPrefixes: [''] }, { envPrefixes: ['A-B'] }, { envNames: ['FLEETFORM_ADMIN_TOKEN'] }, { dir: 'relative/dir' }, { dir: '/' }]) {
      expect(() => parseSecretSources(input), JSON.stringify(input)).toThrow(SecretSourcesError);
    }
    expect(parseSecretSources({})).toEqual(DEFAULT_SECRET_SOURCES);
  });
});

describe('secrets are resolved only where git declares them', () => {
  it('a secretRef in a rule condition or a command parameter is an error and is never resolved', async () => {
    const asked: SecretReference[] = [];
    const resolveReference = (ref: SecretReference): string => {
      asked.push(ref);
      return 'x';
    };
    const rule = `apiVersion: fleetform/v1
kind: AlertRule
metadata: { name: low-battery }
spec:
  scope: device
  severity: warning
  conditions: { all: [{ fact: battery, operator: lessThan, value: 15 }] }
  actions:
    - type: command
      command: report
      params: { token: { secretRef: { env: FLEETFORM_SECRET_LEAK } } }
`;
    const { issues } = await compileSnapshot(fleetWith({ 'rules/battery.yaml': rule }), { resolveReference });
    expectIssue(issues, { code: 'undeclared-secret', file: 'rules/battery.yaml', line: 11, path: '/spec/actions/0/params/token' });
    expect(asked).toEqual([]);
  });
});

describe('environmental issues are told apart from content issues', () => {
  it('an unset variable, a missing file and a wrong identity are environmental; a refused source is not', async () => {
    const { resolve } = resolverFor(parseSecretSources({ dir: secretDir }));
    const unset = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { env: FLEETFORM_SECRET_NOT_SET } }') }), { resolveReference: resolve });
    const missing = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { file: wifi/not-there } }') }), { resolveReference: resolve });
    const stranger = await generateAgeIdentity();
    const armored = await encryptSecret('pw', [DEMO_RECIPIENT]);
    const wrongIdentity = await compileSnapshot(fleetWith({ [SITE]: siteWith(`{ encrypted: ${JSON.stringify(armored)} }`) }), { identity: stranger.identity });
    for (const result of [unset, missing, wrongIdentity]) {
      expect(result.snapshot).toBeNull();
      expect(result.issues.every(isEnvironmentalIssue)).toBe(true);
      expect(onlyEnvironmentalErrors(result.issues)).toBe(true);
    }
    expect(unset.issues.map((i) => i.code)).toEqual(['secret-unresolved']);
    expect(missing.issues.map((i) => i.code)).toEqual(['secret-unresolved']);
    expect(wrongIdentity.issues.map((i) => i.code)).toEqual(['secret-decrypt-failed']);
    // …and the same commit compiles once the environment has what it names.
    const fixed = await compileSnapshot(fleetWith({ [SITE]: siteWith(`{ encrypted: ${JSON.stringify(armored)} }`) }), { identity: DEMO_IDENTITY });
    expect(fixed.issues).toEqual([]);

    const refused = await compileSnapshot(fleetWith({ [SITE]: siteWith('{ secretRef: { env: FLEETFORM_ADMIN_TOKEN } }') }), { resolveReference: resolve });
    expect(refused.issues.some(isEnvironmentalIssue)).toBe(false);
    expect(onlyEnvironmentalErrors(refused.issues)).toBe(false);
  });
});

describe('the flags of validate (and diff, serve)', () => {
  it('declare the sources: the same commit is refused, then accepted with the engine’s prefix; a bad flag is a usage error', async () => {
    const { GitFixture } = await import('../git/fixture.ts');
    const { fleetformWith } = await import('../review/cli.ts');
    const { fleetRepository, site } = await import('../review/fleet-repo.ts');
    const repo: InstanceType<typeof GitFixture> = fleetRepository();
    try {
      repo.write('fleet-config/sites/north.yaml', site('north', 'X').replace('FLEETFORM_SECRET_X', 'LOT_NORTH_WIFI'));
      repo.commit('a variable outside the default prefix');
      const refused = await fleetformWith({}, repo.dir, 'validate', '--repo', repo.dir);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^fleet-config\/sites\/north\.yaml:\d+:\d+: error \[secret-source-not-allowed\] secretRef: environment variable LOT_NORTH_WIFI is not a declared secret source/m);
      // Given prefixes replace the default: the other site's FLEETFORM_SECRET_ variable then needs its prefix too.
      expect((await fleetformWith({}, repo.dir, 'validate', '--repo', repo.dir, '--secret-env-prefix', 'LOT_')).code).toBe(1);
      expect((await fleetformWith({}, repo.dir, 'validate', '--repo', repo.dir, '--secret-env-prefix', 'LOT_', '--secret-env-prefix', 'FLEETFORM_SECRET_')).code).toBe(0);
      expect((await fleetformWith({ FLEETFORM_SECRET_ENV_PREFIX: 'FLEETFORM_SECRET_,LOT_' }, repo.dir, 'validate', '--repo', repo.dir)).code).toBe(0);
      expect((await fleetformWith({ FLEETFORM_SECRET_ENV: 'LOT_NORTH_WIFI' }, repo.dir, 'validate', '--repo', repo.dir)).code).toBe(0);
      const usage = await fleetformWith({}, repo.dir, 'validate', '--repo', repo.dir, '--secret-env', 'FLEETFORM_ADMIN_TOKEN');
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain("FLEETFORM_ADMIN_TOKEN is one of the engine's own settings");
    } finally {
      repo.dispose();
    }
  });
});
