import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { utcTimestamp, webhookId as webhookIdOf } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { redisKey } from '@eufy-relay/runtime';
import { enqueueWebhook, type WebhookQueue } from '@eufy-relay/webhooks';

/** One battery reading of a device: its level and, on devices that have one, their own low flag. */
export interface BatteryReading {
  serial: string;
  level: number;
  /** The device's `batteryLow` property (entry and motion sensors, keypads); undefined elsewhere. */
  lowFlag?: boolean;
  at: number;
}

/**
 * low_battery at most once per BATTERY_ALERT_COOLDOWN_SECONDS per device. The cooldown is a Redis key
 * `{prefix}:battery-alert:{serial}` that expires with it (so it holds across restarts) and holds the
 * id of the webhook it allowed. It is removed early — re-arming the alert — when the level rises to
 * BATTERY_LOW_PERCENT + BATTERY_REARM_PERCENT, so a level wobbling around the threshold alerts once.
 */
export class BatteryAlerts {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<
      Config,
      'REDIS_PREFIX' | 'BATTERY_LOW_PERCENT' | 'BATTERY_REARM_PERCENT' | 'BATTERY_ALERT_COOLDOWN_SECONDS'
    >,
    private readonly webhooks: WebhookQueue,
    private readonly logger: Logger,
  ) {}

  /** Idempotent for one reading: run again, it finds its own webhook id in the key and re-queues it (a no-op). */
  async evaluate(reading: BatteryReading): Promise<void> {
    const { config, redis } = this;
    const key = redisKey(config, 'battery-alert', reading.serial);
    const low = reading.level <= config.BATTERY_LOW_PERCENT || reading.lowFlag === true;
    if (!low) {
      if (
        reading.level >= config.BATTERY_LOW_PERCENT + config.BATTERY_REARM_PERCENT &&
        (await redis.del(key))
      )
        this.logger.info(
          { serial: reading.serial, level: reading.level },
          'battery recovered: low_battery re-armed',
        );
      return;
    }
    const webhookId = webhookIdOf('low_battery', { deviceSn: reading.serial, at: reading.at });
    const cooldownMs = Math.round(config.BATTERY_ALERT_COOLDOWN_SECONDS * 1000);
    const claimed = await redis.set(key, webhookId, 'PX', cooldownMs, 'NX');
    if (claimed !== 'OK' && (await redis.get(key)) !== webhookId) return;
    await enqueueWebhook(
      this.webhooks,
      {
        event: 'low_battery',
        device_sn: reading.serial,
        timestamp: utcTimestamp(reading.at),
        battery_level: reading.level,
      },
      { webhookId },
    );
    this.logger.warn({ serial: reading.serial, level: reading.level }, 'low battery: alert queued');
  }
}
