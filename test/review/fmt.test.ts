import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatResourceYaml } from '../../engine/review/index.ts';
import { GitFixture } from '../git/fixture.ts';
import { fleetform } from './cli.ts';

const MESSY_RELEASE = `# yaml-language-server: $schema=../schemas/firmware-release.schema.json
# Releases of the tracker mcu.
spec:
  artifact:
    size: 498304
    # immutable: a fix is a new version
    sha256: ${'a'.repeat(64)}
    url: https://firmware.example/mcu/2.0.0.bin
  version: 2.0.0
  component: mcu
  hardware: tracker
metadata:
  labels: { component: mcu }
  name: tracker-mcu-2.0.0
kind: FirmwareRelease
apiVersion: fleetform/v1
---
apiVersion: fleetform/v1
kind: Rollout
metadata:
  name: r
spec:
  failurePolicy: { maxCycles: 3, maxRetries: 10, retryDelaySeconds: 60, coolDownSeconds: 600 }
  activeWave: canary
  waves:
    - { percent: 5, name: canary }
  target: { bundle: app-1 }
  selector: { profiles: [locator] }
  custom: kept after the known keys
`;

const repos: GitFixture[] = [];
afterEach(() => {
  for (const repo of repos.splice(0)) repo.dispose();
});

describe('canonical formatting', () => {
  it('orders keys apiVersion, kind, metadata, spec and the spec in the model order, keeping comments', () => {
    const formatted = formatResourceYaml(MESSY_RELEASE);
    const keys = formatted.split('---')[0]!.split('\n').filter((line) => /^\S+:/.test(line)).map((line) => line.split(':')[0]);
    expect(keys).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    const specKeys = [...formatted.split('---')[0]!.matchAll(/^ {2}(\w+):/gm)].map((m) => m[1]);
    expect(specKeys).toEqual(['name', 'labels', 'hardware', 'component', 'version', 'artifact']);
    expect(formatted).toMatch(/url: .*\n {4}# immutable: a fix is a new version\n {4}sha256: a{64}\n {4}size: 498304/);
    expect(formatted.startsWith('# yaml-language-server: $schema=../schemas/firmware-release.schema.json\n# Releases of the tracker mcu.\n')).toBe(true);
  });

  it('orders nested structures and keeps unknown keys after the known ones', () => {
    const rollout = formatResourceYaml(MESSY_RELEASE).split(/^---$/m)[1]!;
    expect([...rollout.matchAll(/^ {2}(\w+):/gm)].map((m) => m[1])).toEqual([
      'name',
      'selector',
      'target',
      'waves',
      'activeWave',
      'failurePolicy',
      'custom',
    ]);
    // House style: flow maps padded, flow sequences not.
    expect(rollout).toContain('{ name: canary, percent: 5 }');
    expect(rollout).toContain('selector: { profiles: [locator] }');
    expect(rollout).toContain('{ maxRetries: 10, retryDelaySeconds: 60, coolDownSeconds: 600, maxCycles: 3 }');
  });

  it('is idempotent and does not change what the documents mean', async () => {
    const once = formatResourceYaml(MESSY_RELEASE);
    expect(formatResourceYaml(once)).toBe(once);
    const { parseAllDocuments } = await import('yaml');
    const meaning = (text: string) => parseAllDocuments(text).map((doc) => doc.toJS());
    expect(meaning(once)).toEqual(meaning(MESSY_RELEASE));
  });

  it('fmt --check lists the files that would change and exits 1; fmt rewrites them; then --check passes', async () => {
    const repo = new GitFixture('fleetform-fmt-');
    repos.push(repo);
    repo.write('firmware-manifests/tracker-mcu.yaml', MESSY_RELEASE);
    repo.write('rules/tidy.yaml', formatResourceYaml(MESSY_RELEASE));
    const check = await fleetform(repo.dir, 'fmt', '--check');
    expect(check.code).toBe(1);
    expect(check.stdout).toBe('firmware-manifests/tracker-mcu.yaml\n');
    expect(readFileSync(join(repo.dir, 'firmware-manifests/tracker-mcu.yaml'), 'utf8')).toBe(MESSY_RELEASE);

    const write = await fleetform(repo.dir, 'fmt');
    expect(write.code).toBe(0);
    expect(readFileSync(join(repo.dir, 'firmware-manifests/tracker-mcu.yaml'), 'utf8')).toBe(formatResourceYaml(MESSY_RELEASE));
    expect((await fleetform(repo.dir, 'fmt', '--check')).code).toBe(0);
  });

  it('refuses a --repo that does not exist as a usage error', async () => {
    const result = await fleetform('/', 'fmt', '--check', '--repo', '/no/such/fleetform/repo');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/no/such/fleetform/repo');
  });

  it('leaves a file with a YAML syntax error alone and says so', async () => {
    const repo = new GitFixture('fleetform-fmt-');
    repos.push(repo);
    repo.write('rules/broken.yaml', 'kind: AlertRule\nspec: [\n');
    const result = await fleetform(repo.dir, 'fmt');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rules/broken.yaml: cannot format');
    expect(readFileSync(join(repo.dir, 'rules/broken.yaml'), 'utf8')).toBe('kind: AlertRule\nspec: [\n');
  });
});
