// `fleetform cells import`: an OpenCelliD export streamed from a file, a .csv.gz or stdin; bad rows
// reported as FILE:line; good rows sent in batches; progress as plain lines off a terminal.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runProgram, type CliContext } from '../../engine/cli/index.ts';
import type { CellTower } from '../../engine/model/index.ts';

const csv = [
  'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal',
  'LTE,262,1,4711,1,0,11.58,48.14,1500,12,1,1459814400,1700000000,0',
  'LTE,262,1,4711,2,0,11.59,48.15,900,12,1,1459814400,1700000000,0',
  'GSM,310,260,100,7,,-105.27,40.01,3000,3,1,1459814400,1459814400,-85',
  'LTE,262,1,4711,3,0,11.59,not-a-lat,900,12,1,1459814400,1700000000,0',
  'UMTS,262,2,10,4,0,11.6,48.2,2500,5,1,1459814400,1700000000,0',
].join('\n');

let dir: string | undefined;
let server: Server | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  dir = undefined;
  server = undefined;
});

async function run(args: string[], env: Record<string, string> = {}) {
  dir ??= await mkdtemp(join(tmpdir(), 'fleetform-cells-'));
  await writeFile(join(dir, 'cells.csv'), csv);
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env, cwd: dir, exit: () => undefined };
  const code = await runProgram(['node', 'fleetform', 'cells', 'import', 'cells.csv', ...args], ctx);
  return { code, stdout, stderr };
}

describe('fleetform cells import', () => {
  it('--dry-run reports the bad row as FILE:line and counts the good ones', async () => {
    const { code, stdout, stderr } = await run(['--dry-run', '--progress', 'none']);
    expect(code).toBe(1);
    expect(stderr).toBe('cells.csv:5: [invalid-number] lat "not-a-lat" is not a number\n');
    expect(stdout).toContain('checked 4 towers');
  });

  it('reads the .csv.gz OpenCelliD ships, quoted fields and CRLF included, with the same line numbers', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'fleetform-cells-'));
    const quoted = csv.replace('UMTS,262,2,10,4', '"UMTS",262,2,10,4').replace(/\n/g, '\r\n');
    await writeFile(join(dir, 'cell_towers.csv.gz'), gzipSync(quoted));
    let stdout = '';
    let stderr = '';
    const ctx: CliContext = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {}, cwd: dir, exit: () => undefined };
    const code = await runProgram(['node', 'fleetform', 'cells', 'import', 'cell_towers.csv.gz', '--dry-run', '--progress', 'lines'], ctx);
    expect(code).toBe(1);
    expect(stdout).toContain('checked 4 towers');
    expect(stderr).toContain('cell_towers.csv.gz:5: [invalid-number] lat "not-a-lat" is not a number\n');
    // Progress off a terminal: plain lines, the last one the total.
    expect(stderr).toMatch(/^done 5 rows · [\d,]+ rows\/s \| [\d.]+ (B|KiB) of [\d.]+ (B|KiB) · 4 towers$/m);
  });

  it('reads `-` from stdin (a real process with a pipe), and a line that is not UTF-8 is one bad row', async () => {
    const bin = resolve(import.meta.dirname, '../../bin/fleetform.mjs');
    const input = Buffer.concat([Buffer.from(csv + '\n'), Buffer.from('LTE,262,1,4711,9,0,11.5,48.1,100,1,1,0,0,\xff\n', 'latin1'), Buffer.from('LTE,262,1,4711,10,0,11.5,48.1,100,1,1,0,0,0\n')]);
    const child = spawn(process.execPath, [bin, 'cells', 'import', '-', '--dry-run', '--progress', 'none'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(gzipSync(input));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(1);
    expect(stdout).toContain('checked 5 towers');
    expect(stderr).toContain('stdin:5: [invalid-number]');
    expect(stderr).toMatch(/stdin:7: \[unreadable\] line is not valid UTF-8/);
  });

  it('sends the good rows of the chosen countries in batches to the engine', async () => {
    const received: { auth: string | undefined; towers: CellTower[] }[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, towers: (JSON.parse(body) as { towers: CellTower[] }).towers });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const { code, stdout } = await run(['--mcc', '262', '--batch', '2', '--url', url, '--progress', 'none'], { FLEETFORM_TOKEN: 'op-token' });
    expect(code).toBe(1); // the bad row still makes the exit code say so
    expect(stdout).toContain('imported 3 towers in 2 batches, 1 skipped by --mcc, 1 bad rows');
    expect(received.map((r) => r.towers.map((t) => t.cid))).toEqual([[1, 2], [4]]);
    expect(received[0]!.auth).toBe('Bearer op-token');
    expect(received[0]!.towers[0]).toEqual({ mcc: 262, mnc: 1, lac: 4711, cid: 1, lat: 48.14, lon: 11.58, rangeM: 1500 });
  });

  it('needs an operator token unless it only checks', async () => {
    const { code, stderr } = await run([]);
    expect(code).toBe(2);
    expect(stderr).toContain('operator token');
  });

  it('refuses a missing file and a batch larger than the engine takes as usage errors, naming them', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'fleetform-cells-'));
    let stderr = '';
    const ctx: CliContext = { stdout: () => undefined, stderr: (s) => (stderr += s), env: {}, cwd: dir, exit: () => undefined };
    const missing = { code: await runProgram(['node', 'fleetform', 'cells', 'import', 'nowhere.csv', '--dry-run'], ctx), stderr };
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nowhere.csv');
    const tooBig = await run(['--dry-run', '--batch', '10001']);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toContain('--batch');
  });
});
