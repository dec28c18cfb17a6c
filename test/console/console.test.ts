// The operator console in a real browser (Debian's chromium through playwright-core) against a real
// engine: real PostgreSQL, the example fleet in a real git repository, a small simulated fleet. A
// viewer and an operator sign in and walk every page; the operator acknowledges an alert, sends a
// command, watches a rollout's count change without reloading; the viewer never sees a write control
// and never another tenant's device. Screenshots of each page go to test-artifacts/console/.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckInAnswer } from '../../engine/model/index.ts';
import { openRolloutsForDemo, runSimulation } from '../../engine/simulate/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createExampleFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { buildConsole, launchBrowser, PROJECT, REPORT_CSP_VIOLATIONS, screenshot, watchProblems, type PageProblems } from './browser.ts';
import { ACTIVE_TEXT, CONTRAST_RATIOS, FITS_WIDTH, HASH, INJECTED, MARK_DOCUMENT, SAME_DOCUMENT, SESSION_ITEMS, setHash, UNLABELLED_CONTROLS } from './in-page.ts';

const HOSTILE_MESSAGE = 'Add a site <img src=x onerror="window.__injected=1"> </details><script>window.__injected=2</script>';
/** Buttons that change something: a viewer must see none of them. */
const WRITE_CONTROLS = /^(Acknowledge|Send|Resume|Retry failed rows|Stop|Release)/;
const WATCHED = 'trk-watch-1';
/** app-3.2.1: one step (ble 1.3.0 → 1.4.0) from the rollout's target app-3.3.0. */
const APP_321 = { mcu: '2.3.1', ble: '1.3.0', lte: '5.0.2' };

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let browser: Browser;
let viewerToken: string;
let operatorToken: string;
let rejectedSha: string;
let jobId: string;
let watchedToken: string;
let watchedStep: NonNullable<CheckInAnswer['firmware']>;

async function mint(name: string, role: string, tenants: string[]): Promise<string> {
  const minted = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name, role, tenants } });
  if (minted.status !== 201) throw new Error(`token ${name}: ${minted.status} ${minted.text}`);
  return minted.body.token;
}

beforeAll(async () => {
  const built = buildConsole();
  db = await createTestDatabase();
  repo = await createExampleFleetRepo(PROJECT);
  // As the demo does: every rollout open to its last wave, no maintenance window, short retries.
  const opened: Record<string, string> = {};
  for (const file of ['firmware-manifests/rollout-tracker-app-3.3.0.yaml', 'firmware-manifests/rollout-beacon-mcu-1.2.yaml']) {
    opened[file] = openRolloutsForDemo(await readFile(join(repo.dir, file), 'utf8')).text;
  }
  await repo.commit(opened, 'Open every rollout for the console test');
  server = await startTestEngine({
    databaseUrl: db.url,
    repoDir: repo.dir,
    compile: { identity: await readFile(join(PROJECT, 'demo', 'age-identity.txt'), 'utf8') },
  });
  const active = await eventually(() => server.engine.revisions.current?.sha === repo.head() && server.engine.revisions.current);
  viewerToken = await mint('northstar-viewer', 'viewer', ['northstar-auto']);
  operatorToken = await mint('northstar-operator', 'operator', ['northstar-auto']);

  // A small simulated fleet (both tenants), upgrading through the rollouts.
  await runSimulation({
    url: server.url,
    adminToken: ADMIN_TOKEN,
    snapshot: active.snapshot,
    devices: 36,
    speed: 1000,
    failureRate: 0.05,
    towersPerSite: 2,
    durationMs: 5000,
    seed: 19,
    concurrency: 8,
    prefix: 'sim-',
    stopWhenConverged: true,
    engineStatus: false,
  });

  // A device one step from the target, on a low battery: a step in flight and an open alert.
  watchedToken = await registerDevice(server.url, { id: WATCHED, profile: 'locator', site: 'northstar-denver', labels: { usage: 'inventory' } });
  const first = await checkIn(server.url, WATCHED, watchedToken, checkInBody(APP_321, {}, { battery: 5, cell: { mcc: 310, mnc: 410, lac: 20510, cid: 88321 } }));
  if (!first.body.firmware) throw new Error(`no step for ${WATCHED}: ${first.text}`);
  watchedStep = first.body.firmware;
  await eventually(async () => {
    const alerts = await request<{ alerts: { deviceId: string }[] }>(`${server.url}/v1/alerts?rule=low-battery&status=open`, { token: ADMIN_TOKEN });
    return alerts.body.alerts.some((a) => a.deviceId === WATCHED);
  });

  // A rejected revision whose message tries to inject HTML.
  rejectedSha = await repo.commit({ 'fleet-config/sites/broken.yaml': 'apiVersion: fleetform/v1\nkind: Site\nmetadata: { name: broken\nspec: {}\n' }, HOSTILE_MESSAGE);
  await eventually(async () => (await request(`${server.url}/v1/revisions/${rejectedSha}`, { token: ADMIN_TOKEN })).status === 200);

  // A provisioning job with a bad row, created by the operator (seen by its creator and the tokens covering its tenants).
  const job = await request<{ id: string }>(`${server.url}/v1/provisioning/jobs`, {
    token: operatorToken,
    body: {
      manufacturing: { content: 'id,hardware,fw.mcu,fw.ble,fw.lte\nPV-1,tracker,2.0.0,1.2.0,5.0.0\nPV-2,tracker,2.0.0,1.2.0,5.0.0\nPV-3,toaster,1.0.0,1.0.0,1.0.0\n' },
      shipments: { content: 'id,site\nPV-1,northstar-boulder\nPV-2,northstar-boulder\nPV-3,northstar-boulder\n' },
    },
  });
  if (job.status !== 201) throw new Error(`provisioning job: ${job.status} ${job.text}`);
  jobId = job.body.id;

  await built;
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await repo?.remove();
  await db?.drop();
});

interface Session {
  context: BrowserContext;
  page: Page;
  problems: PageProblems;
}

async function signIn(token: string, options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {}): Promise<Session> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 860 }, colorScheme: options.colorScheme ?? 'light' });
  await context.addInitScript(REPORT_CSP_VIOLATIONS);
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(server.url);
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  return { context, page, problems };
}

async function go(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  await page.evaluate(setHash(hash));
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function writeControls(page: Page): Promise<string[]> {
  const names = await page.getByRole('button').allTextContents();
  return names.filter((n) => WRITE_CONTROLS.test(n.trim()));
}

describe('the operator console', () => {
  it('is served at / with a CSP that forbids inline script, and refuses a token the engine does not know', async () => {
    const answer = await fetch(`${server.url}/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(answer.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(answer.headers.get('content-security-policy')).not.toContain('unsafe-inline');

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByLabel('Operator token').fill('ffo_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('does not know this token');
    expect(await page.evaluate(SESSION_ITEMS)).toBe(0);
    await screenshot(page, '00-sign-in');
    await context.close();
  });

  it('shows a viewer its tenant only, every page, and no control that writes', async () => {
    const { context, page, problems } = await signIn(viewerToken);
    await expect.poll(() => page.locator('.identity').textContent()).toContain('viewer');

    // Overview: applied and rejected revisions, devices as the API counts them for this token.
    const summary = await request<{ devices: number; bySite: Record<string, number> }>(`${server.url}/v1/fleet/summary`, { token: viewerToken });
    expect(Object.keys(summary.body.bySite).every((site) => site.startsWith('northstar-'))).toBe(true);
    const devices = page.getByRole('region', { name: 'Devices' });
    await expect.poll(() => devices.locator('.figure').textContent()).toBe(`${summary.body.devices} devices`);
    const rejected = page.getByRole('region', { name: 'Last rejected revision' });
    await expect.poll(() => rejected.textContent()).toContain('fleet-config/sites/broken.yaml:');
    await expect.poll(() => page.getByRole('region', { name: 'Rollouts' }).textContent()).toContain('tracker-app-3.3.0');
    await page.getByRole('region', { name: 'Engine' }).getByText('ready').waitFor();
    expect(await writeControls(page)).toEqual([]);
    await screenshot(page, '01-overview-viewer');

    // Devices: northstar's only, pages, filters.
    await go(page, '#/devices', 'Devices');
    await page.locator('table.devices tbody tr').first().waitFor();
    const sites = await page.locator('table.devices tbody tr td:nth-child(3)').allTextContents();
    expect(sites.length).toBeGreaterThan(0);
    expect(sites.every((s) => s.startsWith('northstar-'))).toBe(true);
    await expect.poll(() => page.locator('#device-range').textContent()).toContain(`of ${summary.body.devices}`);
    await page.getByLabel('Site').selectOption('northstar-denver');
    await expect.poll(() => page.evaluate(HASH)).toBe('#/devices?site=northstar-denver');
    await expect.poll(async () => (await page.locator('table.devices tbody tr td:nth-child(3)').allTextContents()).every((s) => s === 'northstar-denver')).toBe(true);
    await screenshot(page, '02-devices');
    // Another tenant's device does not exist for this token.
    const other = (await request<{ devices: { id: string; site: string }[] }>(`${server.url}/v1/devices?site=lakeside-chicago&limit=1`, { token: ADMIN_TOKEN })).body.devices[0];
    expect(other).toBeDefined();
    await page.getByLabel('Device id').fill(other?.id ?? '');
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not found');

    // A device: desired vs reported, firmware, step history, location; no command form.
    await go(page, `#/devices/${WATCHED}`, `Device ${WATCHED}`);
    await page.getByRole('region', { name: 'Firmware' }).getByText('ble').first().waitFor();
    await expect.poll(() => page.getByRole('region', { name: 'Firmware' }).textContent()).toContain(`${watchedStep.component}`);
    await expect.poll(() => page.getByRole('region', { name: 'Step history' }).textContent()).toContain('step-issued');
    await expect.poll(() => page.getByRole('region', { name: 'Last location' }).textContent()).toContain('cell');
    expect(await page.getByLabel('Command', { exact: true }).count()).toBe(0);
    expect(await writeControls(page)).toEqual([]);

    // Alerts: the open one is listed, without an Acknowledge button.
    await go(page, '#/alerts', 'Alerts');
    await page.getByRole('row', { name: new RegExp(WATCHED) }).waitFor();
    expect(await writeControls(page)).toEqual([]);

    // Rollouts and revisions read alike for every role.
    await go(page, '#/rollouts', 'Rollouts');
    await page.getByRole('region', { name: 'tracker-app-3.3.0' }).waitFor();
    expect(await writeControls(page)).toEqual([]);
    await go(page, '#/revisions', 'Revisions');
    await page.locator(`tr[data-sha="${rejectedSha}"]`).waitFor();

    // The operator's job, read by a viewer of the same tenant (a job is seen by its creator and by tokens covering its tenants): no write control.
    await go(page, `#/provisioning/${jobId}`, /Provisioning job/);
    await expect.poll(() => page.getByRole('region', { name: /Failed rows/ }).textContent(), { timeout: 15_000 }).toContain('PV-3');
    expect(await writeControls(page)).toEqual([]);

    expect(problems.errors).toEqual([]);
    expect(problems.violations).toEqual([]);
    await context.close();
  });

  it('lets an operator acknowledge an alert and send a command, and shows a rollout count change without a reload', async () => {
    const { context, page, problems } = await signIn(operatorToken);
    const revalidated: string[] = [];
    page.on('response', (response) => {
      if (response.status() === 304 && new URL(response.url()).pathname.startsWith('/v1/')) revalidated.push(response.url());
    });

    // Acknowledge the watched device's low-battery alert.
    await go(page, '#/alerts?severity=warning', 'Alerts');
    const row = page.getByRole('row', { name: new RegExp(WATCHED) });
    await row.getByRole('button', { name: /^Acknowledge/ }).click();
    await expect.poll(() => row.textContent()).toContain('acknowledged');
    await expect.poll(() => row.textContent()).toContain('by northstar-operator');
    const acked = await request<{ alerts: { deviceId: string; status: string; acknowledgedBy: string }[] }>(`${server.url}/v1/alerts?rule=low-battery`, { token: ADMIN_TOKEN });
    expect(acked.body.alerts.find((a) => a.deviceId === WATCHED)).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'northstar-operator' });
    await screenshot(page, '05-alerts');

    // Send a command; it is listed as queued.
    await go(page, `#/devices/${WATCHED}`, `Device ${WATCHED}`);
    await page.getByLabel('Command', { exact: true }).fill('ping');
    await page.getByRole('button', { name: 'Send' }).click();
    const commands = page.getByRole('region', { name: 'Commands' });
    await expect.poll(() => commands.locator('tbody').textContent()).toContain('queued');
    await screenshot(page, '04-device');

    // The rollout's wave: the watched device reports its step done; the page follows on its own.
    const detail = await request<{ firmware: { history: { wave: string | null }[] } }>(`${server.url}/v1/devices/${WATCHED}`, { token: operatorToken });
    const wave = detail.body.firmware.history[0]?.wave;
    expect(wave).toBeTruthy();
    await go(page, '#/rollouts/tracker-app-3.3.0', 'Rollout tracker-app-3.3.0');
    const succeeded = page.locator(`tr[data-wave="${wave}"] [data-count="succeeded"]`);
    await succeeded.waitFor();
    const before = Number((await succeeded.textContent())?.replace(/,/g, ''));
    await expect.poll(() => page.getByRole('region', { name: 'tracker-app-3.3.0' }).textContent()).toContain('310-410-20510-88321');
    await screenshot(page, '03-rollout');
    // Gone if the page reloads: the count must change in this very document.
    await page.evaluate(MARK_DOCUMENT);
    const done = await checkIn(
      server.url,
      WATCHED,
      watchedToken,
      checkInBody({ ...APP_321, [watchedStep.component]: watchedStep.version }, { firmwareStep: { id: watchedStep.stepId, status: 'succeeded' } }, { battery: 60, cell: { mcc: 310, mnc: 410, lac: 20510, cid: 88321 } }),
    );
    expect(done.status).toBe(200);
    await expect.poll(async () => Number((await succeeded.textContent())?.replace(/,/g, '')), { timeout: 15_000 }).toBe(before + 1);
    expect(await page.evaluate(SAME_DOCUMENT)).toBe(true);
    // The polls in between that found nothing new were 304s: ETag revalidation, not the whole answer again.
    expect(revalidated.length).toBeGreaterThan(0);

    // The provisioning job: stages, the failed row and its reason, retry.
    await go(page, `#/provisioning/${jobId}`, /Provisioning job/);
    const failed = page.getByRole('region', { name: /Failed rows/ });
    await expect.poll(() => failed.textContent(), { timeout: 15_000 }).toContain('PV-3');
    await expect.poll(() => page.getByRole('region', { name: 'Stages' }).textContent()).toContain('register');
    await page.getByRole('button', { name: 'Retry failed rows' }).waitFor();
    await screenshot(page, '06-provisioning');

    expect(problems.errors).toEqual([]);
    expect(problems.violations).toEqual([]);
    await context.close();
  });

  it("shows a rejected revision's issues and the plan of its commit as text, never as injected HTML", async () => {
    const { context, page, problems } = await signIn(operatorToken, { colorScheme: 'dark' });
    await go(page, `#/revisions/${rejectedSha}`, /Revision/);
    const issues = page.getByRole('region', { name: /Issues/ });
    await expect.poll(() => issues.textContent()).toMatch(/fleet-config\/sites\/broken\.yaml:\d+:\d+/);
    await expect.poll(() => page.locator('pre.commit-message').textContent()).toBe(HOSTILE_MESSAGE);
    await screenshot(page, '07-revision-dark');

    await page.getByRole('link', { name: 'Plan of this commit' }).click();
    const review = page.getByRole('region', { name: 'Review' });
    await expect.poll(() => review.textContent(), { timeout: 20_000 }).toContain('HEAD issues');
    expect(await review.locator('details').count()).toBeGreaterThan(0);
    expect(await page.locator('img, script:not([src])').count()).toBe(0);
    expect(await page.evaluate(INJECTED)).toBeUndefined();
    await screenshot(page, '08-plan-dark');

    expect(problems.errors).toEqual([]);
    expect(problems.violations).toEqual([]);
    await context.close();
  });

  it('is usable by keyboard, labels every control, reads in light and dark, and fits a tablet', async () => {
    const { context, page } = await signIn(viewerToken, { viewport: { width: 820, height: 1180 } });
    // Keyboard: from the top of the page, Tab reaches the navigation; Enter follows the link.
    await page.keyboard.press('Tab');
    await expect.poll(() => page.evaluate(ACTIVE_TEXT)).toBe('Skip to content');
    for (let i = 0; i < 12; i += 1) {
      if ((await page.evaluate(ACTIVE_TEXT)) === 'Devices') break;
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    await page.locator('table.devices tbody tr').first().waitFor();

    // Every input and select has a label the accessibility tree uses.
    const unlabelled = await page.evaluate(UNLABELLED_CONTROLS);
    expect(unlabelled).toEqual([]);

    // Nothing wider than the tablet's screen: tables scroll inside their panel.
    expect(await page.evaluate(FITS_WIDTH)).toBe(true);
    await screenshot(page, '09-devices-tablet');

    // Body text and muted text against their background, in both schemes (WCAG AA: 4.5:1).
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = (await page.evaluate(CONTRAST_RATIOS)) as Record<string, number>;
      for (const [what, value] of Object.entries(ratios)) expect(value, `${scheme} ${what}`).toBeGreaterThanOrEqual(4.5);
    }
    await context.close();
  });
});
