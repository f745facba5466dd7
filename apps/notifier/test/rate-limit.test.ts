import { busiestSecond } from '@eufy-relay/webhooks/testing';
import { lowBattery, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // Two notifier processes' worth of workers on one queue: the limit is global, not per worker.
  h = await startHarness('rate', { WEBHOOK_RATE_LIMIT_PER_SECOND: '50' }, 2);
});
afterAll(() => h.close());

describe('global rate limit', () => {
  it('300 queued webhooks at 50/s: no one-second window holds more than 50, and all 300 arrive', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `low_battery.rate${i}`);
    await Promise.all(ids.map((id, i) => h.enqueue(lowBattery(i % 101), id)));
    await h.receiver.waitFor((r) => r.length >= 300, 40_000);

    const received = h.receiver.received;
    expect(new Set(received.map((r) => r.webhookId))).toEqual(new Set(ids));
    expect(received).toHaveLength(300);
    expect(received.every((r) => r.signature === 'valid')).toBe(true);
    expect(busiestSecond(received.map((r) => r.at))).toBeLessThanOrEqual(50);
  }, 45_000);
});
