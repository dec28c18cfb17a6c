// `fleetform validate` over a real git repository made with the git CLI: formats, exit codes, revisions,
// and the same snapshot from the working tree and from git (loose objects, then packed by git gc).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerValidate } from '../../engine/cli/validate.ts';
import { UsageError } from '../../engine/cli/context.ts';
import { compileSnapshot, generateAgeIdentity } from '../../engine/config/index.ts';
import { readRevisionTree, readWorkingTree } from '../../engine/git/index.ts';
import type { Issue, Snapshot } from '../../engine/model/index.ts';
import { DEMO_IDENTITY, REPO_ROOT } from './fixtures.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The validate command as `fleetform` runs it: usage errors exit 2. */
async function validate(args: string[], cwd: string): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const ctx = { stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s), env: {}, cwd, exit: (c: number) => void (code = c) };
  const program = new Command('fleetform').exitOverride().configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
  registerValidate(program, ctx);
  try {
    await program.parseAsync(['node', 'fleetform', 'validate', ...args]);
  } catch (error) {
    if (error instanceof UsageError) return { code: 2, stdout, stderr: stderr + error.message };
    if (error instanceof CommanderError) return { code: error.exitCode === 0 ? 0 : 2, stdout, stderr };
    throw error;
  }
  return { code, stdout, stderr };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).toString().trim();
}

let repo: string;
let goodSha: string;

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'fleetform-validate-'));
  for (const folder of ['fleet-config', 'firmware-manifests', 'rules', 'schemas', 'demo']) {
    cpSync(join(REPO_ROOT, folder), join(repo, folder), { recursive: true });
  }
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'example fleet');
  goodSha = git(repo, 'rev-parse', 'HEAD');
});

afterAll(() => {
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe('fleetform validate', () => {
  it('exits 0 on the example fleet, from the working tree and from HEAD, decrypting with the demo identity', async () => {
    const worktree = await validate(['--repo', repo, '--age-identity', join(repo, 'demo/age-identity.txt')], REPO_ROOT);
    expect(worktree).toMatchObject({ code: 0, stdout: '' });
    expect(worktree.stderr).toContain('valid');
    const head = await validate(['--rev', 'HEAD', '--age-identity', 'demo/age-identity.txt'], repo);
    expect(head.code).toBe(0);
    expect(head.stderr).toContain(goodSha);
  });

  it('exits 1 and prints every error as path:line:col in text, JSON and GitHub formats', async () => {
    const site = join(repo, 'fleet-config/sites/pop-up-lot.yaml');
    writeFileSync(
      site,
      'apiVersion: fleetform/v1\nkind: Site\nmetadata:\n  name: pop-up\nspec:\n  tenant: nobody\n  timezone: UTC\n  wifi:\n    - ssid: PopUp\n      password: letmein\n',
    );
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'pop-up lot');

    const text = await validate(['--repo', repo, '--rev', 'HEAD'], REPO_ROOT);
    expect(text.code).toBe(1);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^fleet-config\/sites\/pop-up-lot\.yaml:6:11: error \[dangling-reference\] /);
    expect(lines[1]).toMatch(/^fleet-config\/sites\/pop-up-lot\.yaml:10:17: error \[plaintext-secret\] /);

    const json = await validate(['--repo', repo, '--rev', 'HEAD', '--format', 'json'], REPO_ROOT);
    expect(json.code).toBe(1);
    const issues = JSON.parse(json.stdout) as Issue[];
    expect(issues.map((i) => [i.code, i.file, i.line, i.column, i.path])).toEqual([
      ['dangling-reference', 'fleet-config/sites/pop-up-lot.yaml', 6, 11, '/spec/tenant'],
      ['plaintext-secret', 'fleet-config/sites/pop-up-lot.yaml', 10, 17, '/spec/wifi/0/password'],
    ]);

    const github = await validate(['--repo', repo, '--rev', 'HEAD', '--format', 'github'], REPO_ROOT);
    expect(github.stdout.split('\n')[0]).toMatch(/^::error file=fleet-config\/sites\/pop-up-lot\.yaml,line=6,col=11,title=dangling-reference::/);

    // the earlier commit is still valid; the working tree has the bad file too
    expect((await validate(['--repo', repo, '--rev', goodSha], REPO_ROOT)).code).toBe(0);
    expect((await validate(['--repo', repo, '--rev', 'HEAD~1'], REPO_ROOT)).code).toBe(0);
    expect((await validate(['--repo', repo], REPO_ROOT)).code).toBe(1);
    git(repo, 'rm', '-q', 'fleet-config/sites/pop-up-lot.yaml');
    git(repo, 'commit', '-q', '-m', 'remove the pop-up lot');
  });

  it('exits 1 when the given identity cannot decrypt a secret', async () => {
    const stranger = await generateAgeIdentity();
    const identityFile = join(repo, '..', `stranger-${process.pid}.txt`);
    writeFileSync(identityFile, stranger.identity + '\n');
    try {
      const run = await validate(['--repo', repo, '--age-identity', identityFile, '--format', 'json'], REPO_ROOT);
      expect(run.code).toBe(1);
      const issues = JSON.parse(run.stdout) as Issue[];
      expect(issues.length).toBeGreaterThan(0);
      expect(new Set(issues.map((i) => i.code))).toEqual(new Set(['secret-decrypt-failed']));
    } finally {
      rmSync(identityFile, { force: true });
    }
  });

  it('exits 2 on usage errors: unknown format, unknown revision, not a repository, unreadable identity', async () => {
    expect((await validate(['--repo', repo, '--format', 'xml'], REPO_ROOT)).code).toBe(2);
    expect((await validate(['--repo', repo, '--rev', 'no-such-branch'], REPO_ROOT)).code).toBe(2);
    const empty = mkdtempSync(join(tmpdir(), 'fleetform-norepo-'));
    try {
      expect((await validate(['--repo', empty, '--rev', 'HEAD'], REPO_ROOT)).code).toBe(2);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect((await validate(['--repo', repo, '--age-identity', '/nonexistent/identity.txt'], REPO_ROOT)).code).toBe(2);
  });
});

describe('one loader, two sources', () => {
  const resourcesOf = (snapshot: Snapshot | null) =>
    snapshot?.resources.map((r) => ({ file: r.file, index: r.documentIndex, resource: r.resource, at: r.locate(['spec']) }));

  it('the working tree and the commit compile to the same snapshot, before and after git gc', async () => {
    const fromDisk = await compileSnapshot(await readWorkingTree({ dir: repo }), { identity: DEMO_IDENTITY });
    const sha = git(repo, 'rev-parse', 'HEAD');
    const loose = await compileSnapshot(await readRevisionTree({ dir: repo, ref: sha }), { identity: DEMO_IDENTITY });
    git(repo, 'gc', '-q', '--aggressive', '--prune=now');
    const packed = await compileSnapshot(await readRevisionTree({ dir: repo, ref: 'main' }), { identity: DEMO_IDENTITY });
    expect(fromDisk.issues).toEqual([]);
    expect(loose.issues).toEqual([]);
    expect(packed.issues).toEqual([]);
    expect(loose.snapshot?.revision).toBe(sha);
    expect(packed.snapshot?.revision).toBe(sha);
    expect(resourcesOf(loose.snapshot)).toEqual(resourcesOf(fromDisk.snapshot));
    expect(resourcesOf(packed.snapshot)).toEqual(resourcesOf(fromDisk.snapshot));
    expect(fromDisk.secrets.size).toBe(packed.secrets.size);
  });
});
