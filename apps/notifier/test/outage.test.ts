import { waitFor } from '@eufy-relay/testing';
import { lowBattery, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // A schedule whose tail outlasts the outage even with every delay jittered 10 % short.
  h = await startHarness('outage', { WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2,0.4,0.8,1.6,3.2,6.4,12.8' });
});
afterAll(() => h.close());

describe('receiver outage', () => {
  it('the receiver is down for 10 s, then up: every webhook arrives, duplicates carry the same webhook-id', async () => {
    const before = Array.from({ length: 10 }, (_, i) => `low_battery.before${i}`);
    const during = Array.from({ length: 20 }, (_, i) => `low_battery.during${i}`);
    await Promise.all(before.map((id, i) => h.enqueue(lowBattery(i), id)));
    await h.receiver.waitFor((r) => r.length >= 3); // some delivered, the rest in flight or queued
    await h.receiver.down();
    const downAt = performance.now();
    await Promise.all(during.map((id, i) => h.enqueue(lowBattery(50 + i), id)));
    await new Promise((r) => setTimeout(r, 10_000));
    expect(h.receiver.received.every((r) => r.at < downAt)).toBe(true);
    await h.receiver.up();

    const expected = new Set([...before, ...during]);
    await h.receiver.waitFor((r) => expected.size === new Set(r.map((x) => x.webhookId)).size, 25_000);
    const received = h.receiver.received;
    expect(new Set(received.map((r) => r.webhookId))).toEqual(expected);
    // One body per webhook-id and one webhook-id per body: a re-sent webhook is recognisable as such.
    for (const id of expected) {
      expect(new Set(received.filter((r) => r.webhookId === id).map((r) => r.body)).size).toBe(1);
    }
    const idsPerBody = new Map<string, Set<string | undefined>>();
    for (const r of received) idsPerBody.set(r.body, (idsPerBody.get(r.body) ?? new Set()).add(r.webhookId));
    expect([...idsPerBody.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(received.every((r) => r.signature === 'valid')).toBe(true);

    // Nothing was given up on: no dead webhook, no system_error.
    expect(await h.queue.getFailedCount()).toBe(0);
    expect(h.receiver.payloads('system_error')).toEqual([]);
    await waitFor(
      'the condition',
      async () => (await h.deliveryLog.attempts('low_battery.during0')).at(-1)?.outcome === 'delivered',
    );
    const retried = await h.deliveryLog.attempts('low_battery.during0');
    expect(retried.length).toBeGreaterThan(1);
    expect(retried[0]!.error).toMatch(/ECONNREFUSED/);
  }, 45_000);
});
