// Real repositories for tests, written with the `git` command line in temp dirs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Fleet Engineer',
  GIT_AUTHOR_EMAIL: 'fleet@example.com',
  GIT_COMMITTER_NAME: 'Fleet Engineer',
  GIT_COMMITTER_EMAIL: 'fleet@example.com',
};

export class GitFixture {
  readonly dir: string;
  private tick = 0;

  constructor(prefix = 'fleetform-git-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.git('init', '--quiet', '--initial-branch=main');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: GIT_ENV, encoding: 'utf8' }).trim();
  }

  write(path: string, content: string | Uint8Array): this {
    const absolute = join(this.dir, path);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, content);
    return this;
  }

  symlink(path: string, target: string): this {
    const absolute = join(this.dir, path);
    mkdirSync(dirname(absolute), { recursive: true });
    symlinkSync(target, absolute);
    return this;
  }

  rename(from: string, to: string): this {
    mkdirSync(dirname(join(this.dir, to)), { recursive: true });
    renameSync(join(this.dir, from), join(this.dir, to));
    return this;
  }

  remove(path: string): this {
    unlinkSync(join(this.dir, path));
    return this;
  }

  /** Commits everything; distinct, increasing commit times so history order is well defined. Returns the sha. */
  commit(message: string): string {
    this.tick += 1;
    const date = new Date(Date.UTC(2026, 0, 1, 0, 0, this.tick)).toISOString();
    this.git('add', '--all');
    execFileSync('git', ['commit', '--quiet', '--allow-empty', '-m', message], {
      cwd: this.dir,
      env: { ...GIT_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
    return this.git('rev-parse', 'HEAD');
  }

  /** Packs every object and ref, as a real `git gc` leaves a repository. */
  gc(): this {
    this.git('gc', '--quiet', '--aggressive', '--prune=now');
    return this;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
