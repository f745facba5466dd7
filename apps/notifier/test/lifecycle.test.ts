import { readRecentErrors } from '@eufy-relay/errors';
import { createLogger } from '@eufy-relay/logger';
import { createRedis, redisReady } from '@eufy-relay/runtime';
import { DeliveryLog, enqueueWebhook, openWebhookQueue } from '@eufy-relay/webhooks';
import { testConfig, waitFor } from '@eufy-relay/testing';
import { deliveryStarts, start } from '../src';
import { lowBattery, startHarness } from './harness';

describe('notifier without a receiver', () => {
  it('records every webhook as skipped, not as an error, and keeps it', async () => {
    const config = testConfig(`eufy-relay-test-notifier-skip-${process.pid}`, {
      WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2',
    });
    const redis = createRedis(config, 'producer');
    await redisReady(redis);
    const queue = openWebhookQueue(config, redis);
    const role = await start(config, { logger: createLogger({ level: 'silent' }) });
    try {
      await enqueueWebhook(queue, lowBattery(15), { webhookId: 'low_battery.unsent' });
      await waitFor(
        'the condition',
        async () => (await (await queue.getJob('low_battery.unsent'))!.getState()) === 'completed',
      );
      const job = await queue.getJob('low_battery.unsent');
      expect(job!.returnvalue).toEqual({ outcome: 'skipped' });
      expect(job!.data.payload).toEqual(lowBattery(15));
      expect(await new DeliveryLog(redis, config).attempts('low_battery.unsent')).toEqual([
        expect.objectContaining({ attempt: 1, outcome: 'skipped', status_code: null, error: null }),
      ]);
      expect(await readRecentErrors(redis, config)).toEqual([]);
    } finally {
      await role.stop();
      await queue.obliterate({ force: true });
      await queue.close();
      const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });
});

describe('notifier shutdown', () => {
  it('aborts a delivery hanging on a slow receiver instead of waiting for it', async () => {
    const h = await startHarness('shutdown', { WEBHOOK_TIMEOUT_MS: '60000', SHUTDOWN_TIMEOUT_SECONDS: '2' });
    try {
      h.receiver.reply = () => ({ status: 200, delayMs: 60_000 });
      await h.enqueue(lowBattery(15), 'low_battery.hanging');
      await h.receiver.waitFor((r) => r.length === 1);
      const t0 = Date.now();
      await h.roles.pop()!.stop();
      // Half the 2 s bound as grace, then the request is aborted through the job's signal.
      expect(Date.now() - t0).toBeLessThan(4000);
      const log = await h.deliveryLog.attempts('low_battery.hanging');
      expect(log).toEqual([
        expect.objectContaining({
          outcome: 'failed',
          error: 'attempt aborted: the notifier is shutting down',
        }),
      ]);
    } finally {
      await h.close();
    }
  });
});

describe('deliveryStarts', () => {
  it('paces starts in tenths of a second at the rate, rounded to whole milliseconds: never faster', () => {
    expect(deliveryStarts(20)).toEqual({ max: 2, duration: 100 });
    expect(deliveryStarts(100)).toEqual({ max: 10, duration: 100 });
    expect(deliveryStarts(25)).toEqual({ max: 2, duration: 80 });
    // Under 10/s, one start per window of 1/rate s.
    expect(deliveryStarts(3)).toEqual({ max: 1, duration: 334 });
    expect(deliveryStarts(5000)).toEqual({ max: 500, duration: 100 });
    for (const rate of [1, 3, 7, 10, 13, 20, 33, 50, 99, 100, 1000])
      expect(deliveryStarts(rate).max / deliveryStarts(rate).duration).toBeLessThanOrEqual(rate / 1000);
  });
});
