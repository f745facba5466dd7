import type { Config } from '@eufy-relay/config';
import type { WebhookPayload } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { createRedis, redisReady, type RunningRole } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { DeliveryLog, enqueueWebhook, openWebhookQueue } from '@eufy-relay/webhooks';
import { WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { start } from '../src';

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/**
 * One notifier test setup: a real receiver on 127.0.0.1, `notifiers` notifier roles on their own
 * REDIS_PREFIX, a producer's webhooks queue, and a short retry schedule so retries take milliseconds.
 */
export async function startHarness(name: string, env: Record<string, string> = {}, notifiers = 1) {
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const config: Config = testConfig(`eufy-relay-test-notifier-${name}-${process.pid}`, {
    WORKATO_WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2,0.4,0.8',
    WEBHOOK_RATE_LIMIT_PER_SECOND: '100',
    WEBHOOK_TIMEOUT_MS: '1000',
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    ...env,
  });
  const redis = createRedis(config, 'producer');
  await redisReady(redis);
  const queue = openWebhookQueue(config, redis);
  const roles: RunningRole[] = [];
  for (let i = 0; i < notifiers; i++)
    roles.push(await start(config, { logger: createLogger({ level: 'silent' }) }));

  return {
    config,
    receiver,
    redis,
    queue,
    roles,
    deliveryLog: new DeliveryLog(redis, config),
    enqueue: (payload: WebhookPayload, webhookId: string) => enqueueWebhook(queue, payload, { webhookId }),
    async close() {
      for (const role of roles) await role.stop();
      await queue.obliterate({ force: true });
      await queue.close();
      const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await receiver.close();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

export const lowBattery = (level: number, deviceSn = 'T8600P2323209876'): WebhookPayload => ({
  event: 'low_battery',
  device_sn: deviceSn,
  timestamp: '2025-01-30T10:15:00Z',
  battery_level: level,
});

/** Milliseconds between consecutive arrivals. */
export const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
