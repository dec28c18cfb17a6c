// Provisioning under attack, against a real engine: jobs belong to a token's id and tenants, not
// its name (issue 14: a Lakeside admin named its token like Northstar's operator's and took over
// Northstar's job); another tenant's job or device id is indistinguishable from a missing one;
// nothing is read before the caller is known, so an unauthenticated 30 MB body costs nothing;
// hostile bytes fail their own row, never the job.
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

interface JobView {
  id: string;
  status: string;
  rows: { total: number; done: number; failed: number };
  failures: { row: number; line: number; deviceId: string | null; code: string | null; reason: string | null }[];
  credentialsWaiting: number;
}

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let sql: pg.Client;
/** acme's operator, and a globex admin whose token has the very same name. */
let acme: string;
let acmeColleague: string;
let impostor: string;

async function token(name: string, role: string, tenants: string[]): Promise<string> {
  const made = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name, role, tenants } });
  expect(made.status, made.text).toBe(201);
  return made.body.token;
}

async function job(by: string, content: string, extra: object = {}): Promise<JobView> {
  const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, { token: by, body: { manufacturing: { content }, ...extra } });
  expect(created.status, created.text).toBe(201);
  return eventually(async () => {
    const view = await request<JobView>(`${server.url}/v1/provisioning/jobs/${created.body.id}?failuresLimit=100`, { token: by });
    return view.body.status === 'completed' ? view.body : null;
  }, 30_000);
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir, provisioning: { workers: 2, pollMs: 50 } });
  await eventually(() => server.engine.revisions.current);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  acme = await token('factory-line', 'operator', ['acme']);
  acmeColleague = await token('acme-night-shift', 'operator', ['acme']);
  impostor = await token('factory-line', 'admin', ['globex']);
});

afterAll(async () => {
  await sql?.end();
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

describe('a job belongs to a token id and its tenants, never a name', () => {
  it('another tenant’s token with the same name gets 404 for everything, exactly as for a job that does not exist', async () => {
    const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, {
      token: acme,
      body: { manufacturing: { content: 'id,hardware,fw.mcu,fw.ble\nSEC-1,tr,1.0.0,1.0.0\n' }, defaultSite: 'plant-1' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await eventually(async () => ((await request<JobView>(`${server.url}/v1/provisioning/jobs/${id}`, { token: acme })).body.credentialsWaiting > 0 ? true : null));
    const missing = '00000000-0000-4000-8000-000000000000';
    const attempts: [string, string, object | undefined][] = [
      ['GET', '', undefined],
      ['POST', '/stop', {}],
      ['POST', '/resume', {}],
      ['POST', '/retry-failed', {}],
      ['GET', '/credentials', undefined],
      ['POST', '/credentials/ack', { ids: ['1', '2', '3'] }],
    ];
    for (const [method, path, body] of attempts) {
      const theirs = await request<{ error: { code: string; message: string } }>(`${server.url}/v1/provisioning/jobs/${id}${path}`, { method, token: impostor, ...(body ? { body } : {}) });
      const none = await request<{ error: { code: string; message: string } }>(`${server.url}/v1/provisioning/jobs/${missing}${path}`, { method, token: impostor, ...(body ? { body } : {}) });
      expect([theirs.status, none.status], `${method} ${path}`).toEqual([404, 404]);
      expect(theirs.body.error.code).toBe(none.body.error.code);
      expect(theirs.body.error.message.replace(id, missing)).toBe(none.body.error.message);
    }
    // Nothing of acme's job moved: still there, its credentials waiting for the factory.
    const still = await request<JobView>(`${server.url}/v1/provisioning/jobs/${id}`, { token: acme });
    expect(still.body.credentialsWaiting).toBe(1);
    // An operator of the same tenants sees it; a global admin too. Its credentials are the creator's alone.
    for (const other of [acmeColleague, ADMIN_TOKEN]) {
      expect((await request(`${server.url}/v1/provisioning/jobs/${id}`, { token: other })).status).toBe(200);
      expect((await request(`${server.url}/v1/provisioning/jobs/${id}/credentials`, { token: other })).status).toBe(403);
      expect((await request(`${server.url}/v1/provisioning/jobs/${id}/credentials/ack`, { token: other, body: { ids: ['1'] } })).status).toBe(403);
    }
    expect((await request<JobView>(`${server.url}/v1/provisioning/jobs/${id}`, { token: acme })).body.credentialsWaiting).toBe(1);
  });

  it('the job list shows a caller only the jobs it may open', async () => {
    const ids = async (by: string) => (await request<{ jobs: { id: string; createdBy: string }[] }>(`${server.url}/v1/provisioning/jobs`, { token: by })).body.jobs.map((j) => j.id);
    const acmeJobs = await ids(acme);
    expect(acmeJobs.length).toBeGreaterThan(0);
    expect(await ids(acmeColleague)).toEqual(acmeJobs);
    for (const id of acmeJobs) expect(await ids(impostor)).not.toContain(id);
    expect(await ids(ADMIN_TOKEN)).toEqual(expect.arrayContaining(acmeJobs));
  });

  it('a job id that is not an id (NUL, surrogates, SQL) is a 404 as well, never a 500', async () => {
    for (const id of ['%00', '%ED%A0%80', "x'%20or%201=1--", 'a'.repeat(300)]) {
      const answer = await request<{ error: { code: string } }>(`${server.url}/v1/provisioning/jobs/${id}`, { token: acme });
      expect(answer.status, id).toBe(404);
    }
  });

  it('another tenant’s device id fails as "in use", the same answer as an id registered outside provisioning', async () => {
    await job(impostor, 'id,hardware,fw.mcu,fw.ble\nGLOBEX-7,tr,1.0.0,1.0.0\n', { defaultSite: 'depot-9' });
    await registerDevice(server.url, { id: 'ACME-OWN', site: 'plant-1' });
    const done = await job(acme, 'id,hardware,fw.mcu,fw.ble\nGLOBEX-7,tr,1.0.0,1.0.0\nACME-OWN,tr,1.0.0,1.0.0\nACME-NEW,tr,1.0.0,1.0.0\n', { defaultSite: 'plant-1' });
    expect(done.rows).toMatchObject({ total: 3, done: 1, failed: 2 });
    const [theirs, own] = done.failures;
    expect([theirs?.deviceId, theirs?.code, own?.deviceId, own?.code]).toEqual(['GLOBEX-7', 'device-exists', 'ACME-OWN', 'device-exists']);
    expect(theirs?.reason?.replace('GLOBEX-7', 'X')).toBe(own?.reason?.replace('ACME-OWN', 'X'));
    expect(theirs?.reason?.replace('GLOBEX-7', 'X')).not.toMatch(/globex|depot|tenant/i);
    // The globex device is untouched.
    expect((await sql.query(`select tenant, site from device where id = 'GLOBEX-7'`)).rows).toEqual([{ tenant: 'globex', site: 'depot-9' }]);
  });
});

describe('nothing is read before the caller is known', () => {
  /** Starts a POST with a body it never finishes; resolves with the status once the server answers. */
  function unfinishedPost(path: string, headers: Record<string, string>): Promise<{ status: number; sent: number; declared: number }> {
    const declared = 30 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const url = new URL(path, server.url);
      let sent = 0;
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'content-length': String(declared), ...headers } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, sent, declared });
        req.destroy();
      });
      req.on('error', (error) => ((error as { code?: string }).code === 'ECONNRESET' ? undefined : reject(error)));
      // 1 MiB of the 30 declared, then nothing: a server that reads the body first never answers.
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      req.write(chunk, () => (sent += chunk.length));
    });
  }

  it('an unauthenticated 30 MB upload or job is answered 401 before its body arrives, and /healthz answers meanwhile', async () => {
    for (const [path, type] of [
      ['/v1/provisioning/uploads?log=manufacturing', 'text/csv'],
      ['/v1/provisioning/jobs', 'application/json'],
    ] as const) {
      const pending = unfinishedPost(path, { 'content-type': type });
      expect((await request(`${server.url}/healthz`)).status).toBe(200);
      const answer = await pending;
      expect(answer.status, path).toBe(401);
      expect(answer.sent).toBeLessThan(answer.declared);
    }
  });

  it('a viewer is refused (403) before its body is read, and an authenticated job body past 1 MiB is refused (413)', async () => {
    const viewer = await token('acme-viewer', 'viewer', ['acme']);
    const refused = await unfinishedPost('/v1/provisioning/uploads?log=manufacturing', { authorization: `Bearer ${viewer}` });
    expect(refused.status).toBe(403);
    const big = await request<{ error: { code: string } }>(`${server.url}/v1/provisioning/jobs`, { token: acme, body: { manufacturing: { content: 'x'.repeat(1_100_000) } } });
    expect(big.status).toBe(413);
  });
});

describe('hostile bytes fail their own row', () => {
  it('NUL characters and lone surrogates in a log fail their rows alone; in a field of the request they are a 400 naming it', async () => {
    const jsonl = [
      '{"id":"HB-1","hardware":"tr","firmware":{"mcu":"1.0.0","ble":"1.0.0"}}',
      '{"id":"HB-2","hardware":"t\\u0000r","firmware":{"mcu":"1.0.0","ble":"1.0.0"}}',
      '{"id":"HB-3","hardware":"tr","firmware":{"mcu":"\\udc00","ble":"1.0.0"}}',
      '{"id":"HB-4\\u0000","hardware":"tr"}',
      '{"id":"HB-5","hardware":"tr","firmware":{"mcu":"1.0.0","ble":"1.0.0"}}',
    ].join('\n');
    const done = await job(acme, jsonl, { defaultSite: 'plant-1', manufacturing: { content: jsonl, format: 'jsonl' } });
    expect(done.rows).toMatchObject({ total: 5, done: 2, failed: 3 });
    expect(done.failures.map((f) => [f.row, f.line, f.code])).toEqual([
      [2, 2, 'malformed-row'],
      [3, 3, 'malformed-row'],
      [4, 4, 'malformed-row'],
    ]);
    const csv = await job(acme, 'id,hardware,fw.mcu,fw.ble\nHB-6,tr,1.0.0,1.0.0\nHB-7,t\u0000r,1.0.0,1.0.0\nHB-8,tr,\ud800,1.0.0\n', { defaultSite: 'plant-1' });
    expect(csv.rows).toMatchObject({ total: 3, done: 1, failed: 2 });

    const bad = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/provisioning/jobs`, {
      token: acme,
      body: { manufacturing: { content: 'id,hardware\n' }, defaultSite: 'plant\u0000-1' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid-request', field: '/defaultSite' });
  });
});
