// Alert test fixtures: the engine fixture fleet plus a site of ten trackers and alert rules whose
// webhooks point at a local receiver; a clock the test moves; a programmable webhook receiver.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixtureFleet, type FleetFiles } from '../support/fleet.ts';

/** The webhook secret, given to the engine through a secretRef (never written to git). */
export const HOOK_SECRET = 'whsec-test-0f3c9a';
export const HOOK_SECRET_ENV = 'FLEETFORM_SECRET_TEST_HOOK'; // a declared source: the default FLEETFORM_SECRET_ prefix

/** Firmware of bundle app-3, the rollout's target: check-ins are converged, not upgrading. */
export const CONVERGED = { mcu: '1.1.0', ble: '2.0.0' };

const resolveTestSecret = (reference: { env: string } | { file: string }): string | undefined =>
  'env' in reference && reference.env === HOOK_SECRET_ENV ? HOOK_SECRET : undefined;

/** Engine options of every alert test: the test's clock, the middle of the jitter, no webhook timer (tests deliver by hand), the hook secret. */
export function alertEngineOptions(databaseUrl: string, repoDir: string, clock: TestClock) {
  return { databaseUrl, repoDir, now: clock.now, random: () => 0.5, webhookIntervalMs: 0, compile: { resolveReference: resolveTestSecret } };
}

export function alertFleet(hookUrl: string): FleetFiles {
  return {
    ...fixtureFleet(),
    'fleet-config/sites/lot-7.yaml': `apiVersion: fleetform/v1
kind: Site
metadata:
  name: lot-7
spec:
  tenant: acme
  timezone: UTC
`,
    'rules/battery.yaml': `apiVersion: fleetform/v1
kind: AlertRule
metadata:
  name: low-battery
spec:
  scope: device
  severity: warning
  description: Battery below 15 %.
  conditions:
    all:
      - { fact: battery, operator: lessThan, value: 15 }
  dedupeKey: "{{device.id}}"
  holdDownSeconds: 3600
  actions:
    - type: webhook
      url: ${hookUrl}/battery
      secret: { secretRef: { env: ${HOOK_SECRET_ENV} } }
`,
    'rules/theft.yaml': `apiVersion: fleetform/v1
kind: AlertRule
metadata:
  name: movement-while-locked
spec:
  scope: device
  severity: critical
  conditions:
    all:
      - { fact: movedWhileLocked, operator: equal, value: true }
  holdDownSeconds: 1800
  actions:
    - type: command
      command: enable-theft-recovery
      params: { reportIntervalSeconds: 60 }
`,
    'rules/connectivity.yaml': `apiVersion: fleetform/v1
kind: AlertRule
metadata:
  name: device-offline
spec:
  scope: device
  severity: warning
  conditions:
    all:
      - { fact: status, operator: equal, value: offline }
---
apiVersion: fleetform/v1
kind: AlertRule
metadata:
  name: widespread-comms-failure
spec:
  scope: fleet
  severity: critical
  aggregate: { groupBy: site, measure: offline, threshold: 0.3, minDevices: 10 }
  dedupeKey: "{{site}}"
  holdDownSeconds: 600
`,
  };
}

export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Decides the status of each request (default 200). */
  respond: (hook: Omit<ReceivedHook, 'answered'>) => number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = { url: '', received: [], respond: () => 200, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const hook = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const status = receiver.respond(hook);
      receiver.received.push({ ...hook, answered: status });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

/** A clock the test moves by hand: check-ins, sweeps and deliveries all read it. */
export class TestClock {
  constructor(private current: Date) {}
  now = (): Date => new Date(this.current);
  set(date: Date): void {
    this.current = new Date(date);
  }
  advance(seconds: number): Date {
    this.current = new Date(this.current.getTime() + seconds * 1000);
    return this.now();
  }
}
