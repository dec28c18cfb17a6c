// Issue 14, items 2 and 9: a review cannot be forged by what a commit holds, and it names secret sources.
// A file name or a YAML key carrying Markdown, HTML, @mentions or terminal escapes is shown as text (the
// markdown is rendered by a real CommonMark renderer to check); an unknown YAML tag is an error at its line;
// a secret's change names its source (env → file, re-encrypted), never its value.
import MarkdownIt from 'markdown-it';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptSecret } from '../../engine/config/index.ts';
import { GitFixture } from '../git/fixture.ts';
import { fleetform, fleetformWith } from './cli.ts';
import { fleetRepository, site } from './fleet-repo.ts';
import { DEMO_RECIPIENT } from '../config/fixtures.ts';

const repos: GitFixture[] = [];
function repository(): GitFixture {
  const repo = fleetRepository();
  repos.push(repo);
  return repo;
}
afterEach(() => {
  for (const repo of repos.splice(0)) repo.dispose();
});

const HOSTILE = '<img src=x onerror=alert(1)> [click](https://evil.example) @octocat #1 `tick` | \u001b[2J\u001b[31mRED\u009b0m\n</details>\n# HEAD is valid';
// GitHub renders comments like this: inline HTML allowed, bare URLs linked.
const markdown = new MarkdownIt({ html: true, linkify: true });

function assertInert(md: string): void {
  const html = markdown.render(md);
  expect(html).not.toMatch(/<img|<a |<script|<h1/);
  // Only the sections the renderer wrote: every <details> opened is closed, none by the repository's text.
  expect((md.match(/^<details>$/gm) ?? []).length).toBe((md.match(/^<\/details>$/gm) ?? []).length);
  expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  // The text arrives, as text, inside code.
  expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
}

describe('output that cannot be forged', () => {
  it('a file name with Markdown, HTML, a mention and terminal escapes is inert in markdown and text', async () => {
    const repo = repository();
    const file = `fleet-config/sites/${HOSTILE.replace(/\//g, '∕')}.yaml`;
    repo.write(file, site('west', 'WEST_WIFI'));
    repo.commit('a site in a file with a hostile name');

    const md = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--format', 'markdown');
    expect(md.code).toBe(0);
    assertInert(md.stdout);
    expect(markdown.render(md.stdout)).toMatch(/<code>fleet-config\/sites\/&lt;img src=x onerror=alert\(1\)&gt; \[click\]\(https:∕∕evil\.example\) @octocat #1 `tick` \| \\u001b\[2J/);

    const text = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(text.code).toBe(0);
    expect(text.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text.stdout).toContain('\\u001b[2J\\u001b[31mRED\\u009b0m\\n<∕details>\\n# HEAD is valid.yaml');
    expect(text.stdout.split('\n').filter((line) => line.startsWith('# HEAD is valid'))).toEqual([]);
  });

  it('an issue message quoting the repository is inert too (invalid HEAD)', async () => {
    const repo = repository();
    repo.write('fleet-config/sites/west.yaml', site('west', 'WEST_WIFI').replace('spec:\n', `spec:\n  ${JSON.stringify(HOSTILE)}: 1\n`));
    repo.commit('a hostile key');
    const md = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--format', 'markdown');
    expect(md.code).toBe(1);
    expect(md.stdout).toContain('schema');
    assertInert(md.stdout);
    const text = await fleetform(repo.dir, 'validate', '--repo', repo.dir);
    expect(text.code).toBe(1);
    expect(text.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text.stdout.trim().split('\n')).toHaveLength(1);
  });
});

describe('unknown YAML tags', () => {
  it('a !!binary value is an error at its line in validate and diff, never a crash', async () => {
    const repo = repository();
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI', '{ note: !!binary aGVsbG8= }'));
    repo.commit('binary config');
    const validate = await fleetform(repo.dir, 'validate', '--repo', repo.dir, '--rev', 'HEAD', '--format', 'json');
    expect(validate.code).toBe(1);
    expect(JSON.parse(validate.stdout)).toEqual([
      expect.objectContaining({ code: 'unknown-yaml-tag', file: 'fleet-config/sites/north.yaml', line: 12, column: 19 }),
    ]);
    const diff = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('fleet-config/sites/north.yaml:12:19: error [unknown-yaml-tag] YAML tag !!binary is not allowed');
  });
});

describe('secret sources in the review', () => {
  it('shows which source a secret moves to, and a re-encryption as such — never a value', async () => {
    const repo = repository();
    const envRef = '{ secretRef: { env: FLEETFORM_SECRET_NORTH_WIFI } }';
    const fileRef = '{ secretRef: { file: wifi/north } }';
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI').replace(envRef, fileRef));
    repo.commit('north reads its password from the secret directory');
    const refused = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(refused.code).toBe(1); // no --secret-dir: the engine could not read it
    expect(refused.stdout).toMatch(/secret-source-not-allowed\] secretRef: file wifi\/north: the engine declares no secret directory/);

    const moved = await fleetformWith({ FLEETFORM_SECRET_DIR: '/run/fleetform-secrets' }, repo.dir, 'diff', 'HEAD~1', 'HEAD');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('spec.wifi[north-lot].password: secret source env FLEETFORM_SECRET_NORTH_WIFI → file wifi/north (value not shown)');

    const first = await encryptSecret('password-one', [DEMO_RECIPIENT]);
    const second = await encryptSecret('password-one', [DEMO_RECIPIENT]);
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI').replace(envRef, `{ encrypted: ${JSON.stringify(first)} }`));
    repo.commit('encrypted');
    repo.write('fleet-config/sites/north.yaml', site('north', 'NORTH_WIFI').replace(envRef, `{ encrypted: ${JSON.stringify(second)} }`));
    repo.commit('re-encrypted');
    const reencrypted = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--format', 'markdown');
    expect(reencrypted.stdout).toContain('`spec.wifi[north-lot].password`: re-encrypted (value not shown)');
    const json = await fleetform(repo.dir, 'diff', 'HEAD~2', 'HEAD~1', '--format', 'json');
    expect(json.stdout).toContain('"source"');
    expect(json.stdout).toContain('"old": "file wifi/north"');
    expect(json.stdout).toContain('"new": "age-encrypted"');
    for (const run of [moved, reencrypted, json]) expect(run.stdout).not.toContain('password-one');
  });
});
