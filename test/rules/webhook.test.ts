import { describe, expect, it } from 'vitest';
import { nextDeliveryAttemptAt, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../engine/rules/index.ts';

const body = JSON.stringify({ alert: { rule: 'site-comms-failure', key: 'dealer-munich', status: 'open' } });
const secret = 'whsec-test-0123456789';
const at = 1_795_000_000;

describe('webhook signatures', () => {
  it('a receiver holding the secret verifies what the engine signed', () => {
    const signed = signWebhook(body, secret, at);
    expect(signed.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signed.headers[SIGNATURE_HEADER]).toBe(signed.signature);
    expect(signed.headers[TIMESTAMP_HEADER]).toBe(String(at));
    const verdict = verifyWebhookSignature({ body, secret, signature: signed.signature, timestamp: String(at), now: at + 5 });
    expect(verdict).toEqual({ ok: true });
  });

  it('refuses a changed body, a wrong secret, a moved timestamp and a replay', () => {
    const { signature } = signWebhook(body, secret, at);
    const verify = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]>) =>
      verifyWebhookSignature({ body, secret, signature, timestamp: String(at), now: at, ...over });
    expect(verify({ body: body.replace('open', 'resolved') })).toEqual({ ok: false, code: 'signature-mismatch' });
    expect(verify({ secret: 'another' })).toEqual({ ok: false, code: 'signature-mismatch' });
    expect(verify({ timestamp: String(at + 1), now: at + 1 })).toEqual({ ok: false, code: 'signature-mismatch' });
    expect(verify({ now: at + 301 })).toEqual({ ok: false, code: 'stale-timestamp' });
    expect(verify({ signature: 'sha1=abc' })).toEqual({ ok: false, code: 'malformed-signature' });
    expect(verify({ timestamp: 'yesterday' })).toEqual({ ok: false, code: 'malformed-timestamp' });
  });
});

describe('nextDeliveryAttemptAt', () => {
  const now = Date.parse('2026-11-22T08:00:00Z');
  const delay = (attempt: number, jitter: number) => (nextDeliveryAttemptAt(attempt, now, jitter, { baseSeconds: 10, capSeconds: 600, maxAttempts: 8 }) ?? NaN) - now;

  it('doubles the delay per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => delay(a, 1))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000]);
  });

  it('jitter spreads each delay between half and all of it', () => {
    expect(delay(3, 0)).toBe(20_000);
    expect(delay(3, 0.5)).toBe(30_000);
    for (const jitter of [0, 0.1, 0.7, 0.999]) {
      expect(delay(5, jitter)).toBeGreaterThanOrEqual(80_000);
      expect(delay(5, jitter)).toBeLessThanOrEqual(160_000);
    }
  });

  it('gives up after the last attempt', () => {
    expect(nextDeliveryAttemptAt(8, now, 0.5, { maxAttempts: 8 })).toBeNull();
    expect(nextDeliveryAttemptAt(7, now, 0.5, { maxAttempts: 8 })).not.toBeNull();
  });
});
