// The test gate can fail: a run with a failing test exits non-zero, with the embedded PostgreSQL
// the suite starts by default (whose library installs an exit hook that calls process.exit(0)).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const vitest = resolve(root, 'node_modules/vitest/vitest.mjs');

function runFixture(file: string): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL; // the embedded path: what .ci/run and a fresh clone use
  delete env.VITEST;
  delete env.VITEST_WORKER_ID;
  delete env.VITEST_POOL_ID;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/gate/vitest.gate.config.ts', file], { cwd: root, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe('the test gate', () => {
  it('exits non-zero when a test fails', async () => {
    const run = await runFixture('test/gate/fixtures/deliberately-failing.gate.ts');
    expect(run.output).toMatch(/1 failed/);
    expect(run.code).not.toBe(0);
  }, 180_000);

  it('exits zero when every test passes', async () => {
    const run = await runFixture('test/gate/fixtures/passing.gate.ts');
    expect(run.output).toMatch(/1 passed/);
    expect(run.code).toBe(0);
  }, 180_000);
});
