// A real browser for the console tests: Debian's chromium (apt-get install -y chromium) driven by
// playwright-core. Playwright's own browser download cannot reach the internet here.
import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

export const PROJECT = join(import.meta.dirname, '..', '..');
export const CHROMIUM = process.env.FLEETFORM_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of every page the tests walk (git-ignored); two of them are copied to docs/images/. */
export const ARTIFACTS = join(PROJECT, 'test-artifacts', 'console');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Builds the console the engine serves (dist/console/), as `npm run build:console` does. */
export async function buildConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(PROJECT, 'scripts', 'build-console.mjs')], { cwd: PROJECT });
}

export async function launchBrowser(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set FLEETFORM_CHROMIUM)`);
  });
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Problems the page reports about itself: script errors and CSP violations (collected in the page). */
export interface PageProblems {
  errors: string[];
  violations: string[];
}

export function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { errors: [], violations: [] };
  page.on('pageerror', (error) => problems.errors.push(error.message));
  page.on('console', (message) => {
    // A 4xx answer the console handles (a wrong token, a route probe) is logged by the browser, not an error of the page.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.errors.push(message.text());
  });
  page.on('console', (message) => {
    if (message.text().startsWith('csp-violation:')) problems.violations.push(message.text());
  });
  return problems;
}

/** Init script (runs before the page's own; CDP-injected, so CSP does not apply to it): reports CSP violations. */
export const REPORT_CSP_VIOLATIONS = `addEventListener('securitypolicyviolation', (e) => console.warn('csp-violation: ' + e.violatedDirective + ' ' + e.blockedURI));`;
