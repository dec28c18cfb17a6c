// What the console needs from the engine besides the operator API it already had: who a token is,
// the fleet's counts within its tenants, conditional GETs (ETag → 304), and the console's files
// served with the right types, caching and security headers.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConsole } from '../../engine/http/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ADMIN_TOKEN, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let acmeViewer: string;
let acmeOperator: string;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
  const mint = async (name: string, role: string, tenants: string[]): Promise<string> =>
    (await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name, role, tenants } })).body.token;
  acmeViewer = await mint('acme-viewer', 'viewer', ['acme']);
  acmeOperator = await mint('acme-operator', 'operator', ['acme']);
  for (let i = 1; i <= 3; i += 1) await registerDevice(server.url, { id: `acme-${i}`, site: 'plant-1' });
  await registerDevice(server.url, { id: 'globex-1', site: 'depot-9' });
});

afterAll(async () => {
  await server?.close();
  await repo?.remove();
  await db?.drop();
});

describe('GET /v1/me', () => {
  it('names the token, its role and its tenants', async () => {
    expect((await request(`${server.url}/v1/me`, { token: acmeViewer })).body).toEqual({ name: 'acme-viewer', role: 'viewer', tenants: ['acme'] });
    expect((await request(`${server.url}/v1/me`, { token: acmeOperator })).body).toEqual({ name: 'acme-operator', role: 'operator', tenants: ['acme'] });
    expect((await request(`${server.url}/v1/me`, { token: ADMIN_TOKEN })).body).toMatchObject({ role: 'admin', tenants: ['*'] });
  });

  it('is 401 without a token or with an unknown one', async () => {
    for (const token of [null, 'ffo_nobody']) {
      const answer = await request<{ error: { code: string } }>(`${server.url}/v1/me`, { token });
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
    }
  });
});

describe('GET /v1/fleet/summary', () => {
  it("counts the token's tenants only, by status, site and profile", async () => {
    const acme = await request(`${server.url}/v1/fleet/summary`, { token: acmeViewer });
    expect(acme.body).toEqual({ devices: 3, byStatus: { pending: 3 }, bySite: { 'plant-1': 3 }, byProfile: { tracker: 3 } });
    const all = await request(`${server.url}/v1/fleet/summary`, { token: ADMIN_TOKEN });
    expect(all.body).toEqual({ devices: 4, byStatus: { pending: 4 }, bySite: { 'plant-1': 3, 'depot-9': 1 }, byProfile: { tracker: 4 } });
    expect((await request(`${server.url}/v1/fleet/summary`)).status).toBe(401);
  });
});

describe('conditional GET on the API', () => {
  it('answers 304 without a body when the ETag still matches, and 200 with a new one when the answer changed', async () => {
    const first = await request(`${server.url}/v1/devices`, { token: acmeViewer });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const again = await request(`${server.url}/v1/devices`, { token: acmeViewer, headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');

    await registerDevice(server.url, { id: 'acme-4', site: 'plant-1' });
    const changed = await request<{ devices: unknown[] }>(`${server.url}/v1/devices`, { token: acmeViewer, headers: { 'if-none-match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.body.devices).toHaveLength(4);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('still authorizes and scopes a conditional request: another tenant with the same ETag gets its own answer', async () => {
    const acme = await request(`${server.url}/v1/devices`, { token: acmeViewer });
    const unauthenticated = await request(`${server.url}/v1/devices`, { headers: { 'if-none-match': acme.headers.get('etag') ?? '' } });
    expect(unauthenticated.status).toBe(401);
    const admin = await request<{ devices: { id: string }[] }>(`${server.url}/v1/devices`, { token: ADMIN_TOKEN, headers: { 'if-none-match': acme.headers.get('etag') ?? '' } });
    expect(admin.status).toBe(200);
    expect(admin.body.devices.map((d) => d.id)).toContain('globex-1');
  });

  it('leaves errors and non-GET answers alone', async () => {
    const missing = await request(`${server.url}/v1/devices/nobody`, { token: acmeViewer });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('etag')).toBeNull();
    const created = await request(`${server.url}/v1/devices/acme-1/commands`, { token: acmeOperator, body: { type: 'ping' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBeNull();
  });
});

describe('the console files', () => {
  let dir: string;
  let base: string;
  let close: () => Promise<void>;
  const js = 'console.log("fleetform");'.repeat(40);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetform-console-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(dir, 'assets', 'app-abc123.js'), js);
    await writeFile(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(js));
    await writeFile(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(js));
    await writeFile(join(dir, 'secret.txt'), 'not for the web');
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = error as { status?: number; code?: string };
        ctx.status = e.status ?? 500;
        ctx.body = { error: { code: e.code } };
      }
    });
    app.use(serveConsole({ dir }));
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = { error: { code: 'not-found' } };
    });
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => listening.close(() => resolve()));
  });

  afterAll(async () => {
    await close?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the page with a CSP without inline script, no framing, no sniffing, revalidated on every load', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const revalidated = await fetch(`${base}/`, { headers: { 'if-none-match': page.headers.get('etag') ?? '' } });
    expect(revalidated.status).toBe(304);
  });

  it('serves hashed assets as immutable, precompressed when the client accepts it', async () => {
    const br = await fetch(`${base}/assets/app-abc123.js`, { headers: { 'accept-encoding': 'br' } });
    expect(br.status).toBe(200);
    expect(br.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await br.text()).toBe(js);
    const plain = await fetch(`${base}/assets/app-abc123.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(js);
  });

  it('serves nothing else: no other path, no unknown type, no way out of the folder', async () => {
    for (const path of ['/secret.txt', '/assets/../secret.txt', '/assets/..%2Fsecret.txt', '/assets/%2e%2e/secret.txt', '/assets/app.exe', '/assets/missing.js']) {
      const answer = await fetch(`${base}${path}`);
      expect(answer.status, path).toBe(404);
      expect(await answer.text(), path).not.toContain('not for the web');
    }
    const post = await fetch(`${base}/`, { method: 'POST' });
    expect(post.status).toBe(404);
  });

  it('says the console is not built rather than serving nothing', async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = error as { status: number; code: string };
        ctx.status = e.status;
        ctx.body = { error: { code: e.code } };
      }
    });
    app.use(serveConsole({ dir: join(dir, 'absent') }));
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    try {
      const answer = await fetch(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/`);
      expect(answer.status).toBe(404);
      expect(await answer.json()).toEqual({ error: { code: 'console-not-built' } });
    } finally {
      await new Promise((resolve) => listening.close(resolve));
    }
  });
});
