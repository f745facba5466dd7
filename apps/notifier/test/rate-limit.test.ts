import { waitFor } from '@eufy-relay/testing';
import { busiestSecond } from '@eufy-relay/webhooks/testing';
import { lowBattery, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // Two notifier processes' worth of workers on one queue: the limit is global, not per worker.
  h = await startHarness('rate', { WEBHOOK_RATE_LIMIT_PER_SECOND: '50' }, 2);
});
afterAll(() => h.close());

describe('global rate limit', () => {
  it('300 queued webhooks at 50/s: started at 50/s (no second above one window over), and all 300 arrive', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `low_battery.rate${i}`);
    await Promise.all(ids.map((id, i) => h.enqueue(lowBattery(i % 101), id)));
    await h.receiver.waitFor((r) => r.length >= 300, 40_000);

    const received = h.receiver.received;
    expect(new Set(received.map((r) => r.webhookId))).toEqual(new Set(ids));
    expect(received).toHaveLength(300);
    expect(received.every((r) => r.signature === 'valid')).toBe(true);
    // The limit is on starts, so it is checked on when each delivery started (BullMQ's processedOn),
    // not on arrivals, which a loaded machine bunches. Starts go 5 per 100 ms window: a second
    // measured from inside one window's burst reaches into an eleventh, so at most 55, and 300 starts
    // span at least 59 windows' worth (5.9 s) whatever the machine does.
    // A delivery arrives before its job is marked completed.
    await waitFor('300 completed deliveries', async () => (await h.queue.getCompletedCount()) === 300);
    const starts = (await h.queue.getJobs(['completed'], 0, -1)).map((job) => job.processedOn!);
    expect(busiestSecond(starts)).toBeLessThanOrEqual(55);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(5800);
  }, 45_000);
});
