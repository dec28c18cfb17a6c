import MarkdownIt from 'markdown-it';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptSecret, generateAgeIdentity } from '../../engine/config/index.ts';
import { readRevisionTree } from '../../engine/git/index.ts';
import { reviewChange, type Review } from '../../engine/review/index.ts';
import type { GitFixture } from '../git/fixture.ts';
import { fleetform } from './cli.ts';
import { BUNDLES, fleetRepository, matrix, release, rollout, RELEASES, site } from './fleet-repo.ts';

const repos: GitFixture[] = [];
function repository(): GitFixture {
  const repo = fleetRepository();
  repos.push(repo);
  return repo;
}
afterEach(() => {
  for (const repo of repos.splice(0)) repo.dispose();
});

async function review(repo: GitFixture, base = 'HEAD~1', head = 'HEAD'): Promise<Review> {
  const cache = {};
  return reviewChange({
    base: await readRevisionTree({ dir: repo.dir, ref: base, cache }),
    head: await readRevisionTree({ dir: repo.dir, ref: head, cache }),
  });
}

describe('the semantic diff of two revisions', () => {
  it('sees no change when a file is renamed or resources move between files', async () => {
    const repo = repository();
    repo.rename('fleet-config/sites/north.yaml', 'fleet-config/sites/dealers/north-lot.yaml');
    repo.rename('firmware-manifests/rollout.yaml', 'firmware-manifests/rollouts/tracker.yml');
    repo.commit('reorganise files');
    const result = await review(repo);
    expect(result.resources).toEqual([]);
    expect(result.firmware).toEqual({ releases: [], bundles: [], requirements: [], rollouts: [] });
    const cli = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('0 resources changed');
  });

  it('reports a Wi-Fi password change as changed, never with its value', async () => {
    const repo = repository();
    const { recipient } = await generateAgeIdentity();
    const before = await encryptSecret('old-lot-password', [recipient]);
    const after = await encryptSecret('new-lot-password', [recipient]);
    const encrypted = (armored: string): string =>
      site('north', 'X').replace(/password: .*\n/, `password:\n        encrypted: |\n${armored.trim().split('\n').map((l) => `          ${l}`).join('\n')}\n`);
    repo.write('fleet-config/sites/north.yaml', encrypted(before));
    repo.commit('encrypt the north password');
    repo.write('fleet-config/sites/north.yaml', encrypted(after));
    repo.commit('rotate the north password');

    const result = await review(repo);
    expect(result.headValid).toBe(true);
    expect(result.resources).toEqual([
      {
        kind: 'Site',
        name: 'north',
        type: 'changed',
        file: 'fleet-config/sites/north.yaml',
        fields: [{ path: 'spec.wifi[north-lot].password', type: 'changed', secret: true, source: { old: 'age-encrypted', new: 'age-encrypted' } }],
      },
    ]);
    const ciphertextLine = (armored: string): string => armored.split('\n')[1] ?? armored;
    for (const format of ['text', 'markdown', 'json']) {
      const cli = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--format', format);
      expect(cli.code).toBe(0);
      expect(cli.stdout).toContain('spec.wifi[north-lot].password');
      expect(cli.stdout).toMatch(format === 'json' ? /"changed"/ : /re-encrypted/);
      expect(cli.stdout).not.toContain(ciphertextLine(before));
      expect(cli.stdout).not.toContain(ciphertextLine(after));
      expect(cli.stdout).not.toContain('BEGIN AGE');
    }
  });

  it('lists releases added, bundles removed and added, and rollout changes in the firmware section', async () => {
    const repo = repository();
    const next = { name: 'app-2.1.0', version: '2.1.0', mcu: '2.1.0', ble: '1.1.0' };
    repo.write('firmware-manifests/tracker-mcu.yaml', [...RELEASES.mcu, '2.1.0'].map((v) => release('mcu', v)).join(''));
    repo.write('firmware-manifests/matrix-tracker.yaml', matrix([...BUNDLES.filter((b) => b.name !== 'app-1.0.0'), next]));
    repo.write('firmware-manifests/rollout.yaml', rollout({ target: 'app-2.1.0', activeWave: 'wider', maxInFlightPerCell: 5 }));
    repo.commit('app 2.1.0');
    const result = await review(repo);
    expect(result.firmware.releases).toEqual([
      expect.objectContaining({ type: 'added', name: 'tracker-mcu-2.1.0', component: 'mcu', version: '2.1.0' }),
    ]);
    expect(result.firmware.bundles.map((b) => [b.type, b.bundle])).toEqual([
      ['removed', 'app-1.0.0'],
      ['added', 'app-2.1.0'],
    ]);
    expect(result.firmware.rollouts).toEqual([
      expect.objectContaining({
        type: 'changed',
        name: 'tracker-rollout',
        target: 'bundle app-2.1.0',
        fields: [
          { path: 'spec.target.bundle', type: 'changed', old: 'app-1.2.0', new: 'app-2.1.0' },
          { path: 'spec.activeWave', type: 'changed', old: 'canary', new: 'wider' },
          { path: 'spec.throttle.maxInFlightPerCell', type: 'changed', old: 10, new: 5 },
        ],
      }),
    ]);
    const text = (await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD')).stdout;
    // Firmware is the section reviewers read first.
    expect(text.indexOf('Firmware')).toBeLessThan(text.indexOf('Resources'));
  });

  it('shows a changed requirement and a changed artifact with old and new values', async () => {
    const repo = repository();
    const changed = RELEASES.ble.map((v) =>
      v === '1.1.0' ? release('ble', v, '  requires:\n    mcu: ">=1.1.0"\n').replace(/sha256: \w+/, `sha256: ${'b'.repeat(64)}`) : release('ble', v),
    );
    repo.write('firmware-manifests/tracker-ble.yaml', changed.join(''));
    repo.commit('ble 1.1.0 re-signed');
    const result = await review(repo);
    expect(result.firmware.releases).toEqual([
      expect.objectContaining({
        type: 'changed',
        name: 'tracker-ble-1.1.0',
        fields: [{ path: 'spec.artifact.sha256', type: 'changed', old: expect.stringMatching(/^[0-9a-f]{64}$/), new: 'b'.repeat(64) }],
      }),
    ]);
    expect(result.firmware.requirements).toEqual([
      { subject: 'FirmwareRelease/tracker-ble-1.1.0', fields: [{ path: 'spec.requires', type: 'added', new: { mcu: '>=1.1.0' } }] },
    ]);
  });

  it('validates HEAD first: an invalid HEAD lists its issues and exits 1', async () => {
    const repo = repository();
    repo.write('fleet-config/sites/south.yaml', 'apiVersion: fleetform/v1\nkind: Site\nmetadata: { name: south }\nspec:\n  tenant: nobody\n  timezone: [\n');
    repo.commit('broken yaml');
    const cli = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(cli.code).toBe(1);
    const lines = cli.stdout.split('\n');
    expect(lines[1]).toMatch(/HEAD is invalid/);
    expect(cli.stdout).toMatch(/fleet-config\/sites\/south\.yaml:\d+:\d+: error \[yaml-syntax\]/);
    expect(cli.stdout.indexOf('yaml-syntax')).toBeLessThan(cli.stdout.indexOf('Firmware'));
  });

  it('escapes markup from the repository in markdown, so an issue message cannot close a section', async () => {
    const repo = repository();
    repo.write('fleet-config/sites/south.yaml', 'apiVersion: fleetform/v1\nkind: "</details><b>Site"\nmetadata: { name: south }\nspec: {}\n');
    repo.commit('a kind with markup');
    const cli = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--format', 'markdown');
    expect(cli.code).toBe(1);
    // The message is a code span: GitHub shows it as text, and it cannot close the section.
    expect(cli.stdout).toContain('`unknown kind "</details><b>Site"; expected one of');
    expect(cli.stdout.match(/^<\/details>$/gm)?.length).toBe(cli.stdout.match(/^<details>$/gm)?.length);
    expect(new MarkdownIt({ html: true }).render(cli.stdout)).not.toMatch(/<b>/);
  });

  it('refuses an unknown revision as a usage error', async () => {
    const repo = repository();
    const cli = await fleetform(repo.dir, 'diff', 'no-such-branch', 'HEAD');
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('unknown revision');
  });
});
