import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { addJob, offlineCheckJob, utcTimestamp, webhookId, type JobQueue } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { RedisScript, redisKey } from '@eufy-relay/runtime';
import { enqueueWebhook, type WebhookQueue } from '@eufy-relay/webhooks';

/*
 * An outage is `{prefix}:outage:{serial}`, a hash { started_at (epoch ms), reason, alerted }, where
 * alerted is "0" (within the debounce), "claimed" (camera_offline being queued) or "1" (queued).
 * The scripts (outage-*-1.lua beside this file) make "is it still open and not alerted" and "close it" one step each in Redis, so
 * the check job and a camera coming back cannot both decide.
 */

const OPEN = RedisScript.load(__dirname, 'outage-open-1.lua');
const CLAIM = RedisScript.load(__dirname, 'outage-claim-1.lua');
const SETTLE = RedisScript.load(__dirname, 'outage-settle-1.lua');
const CLOSE = RedisScript.load(__dirname, 'outage-close-1.lua');

/** What the check job did; its return value in Bull Board. */
export type OfflineCheckOutcome = 'alerted' | 'already alerted' | 'closed within the debounce';

export interface OutageOptions {
  redis: Redis;
  config: Pick<
    Config,
    'REDIS_PREFIX' | 'OFFLINE_DEBOUNCE_SECONDS' | 'RETRY_ATTEMPTS' | 'RETRY_BASE_DELAY_MS'
  >;
  /** The alerts queue (delayed offline checks). */
  alerts: JobQueue<typeof offlineCheckJob>;
  /** The webhooks queue, opened with openWebhookQueue. */
  webhooks: WebhookQueue;
  logger: Logger;
}

/**
 * camera_offline after OFFLINE_DEBOUNCE_SECONDS, once per outage, and camera_online when an alerted
 * camera comes back. The debounce is a delayed job in Redis, not a timer, so an ingest restart within
 * it neither loses the alert nor sends it twice; every step is idempotent (webhook ids are derived
 * from the outage: `camera_offline.{serial}.{start ms}`, `camera_online.{serial}.{start ms}`).
 */
export class Outages {
  constructor(private readonly options: OutageOptions) {}

  private key(serial: string): string {
    return redisKey(this.options.config, 'outage', serial);
  }

  private static checkJobId(serial: string, startedAt: number): string {
    return `offline.${serial}.${startedAt}`;
  }

  /** The camera is offline (seen at `at`): opens its outage unless one is open, and schedules the check. */
  async open(serial: string, reason: string, at: number): Promise<void> {
    const { redis, config, alerts } = this.options;
    const startedAt = Number(await OPEN.run(redis, [this.key(serial)], [at, reason]));
    const dueIn = startedAt + config.OFFLINE_DEBOUNCE_SECONDS * 1000 - Date.now();
    // The same id while the job is kept: opening again (a flap of the reason, a restart) adds nothing.
    await addJob(
      alerts,
      offlineCheckJob,
      { device_sn: serial, outage_started_at: new Date(startedAt).toISOString() },
      {
        jobId: Outages.checkJobId(serial, startedAt),
        delay: Math.max(0, dueIn),
        attempts: config.RETRY_ATTEMPTS + 1,
        backoff: { type: 'exponential', delay: config.RETRY_BASE_DELAY_MS },
        removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
        // A check that failed for good is re-added by the next state sync (reconnect or restart).
        removeOnFail: true,
      },
    );
  }

  /** The camera is online (seen at `at`): closes its outage; camera_online if it had been alerted. */
  async close(serial: string, at: number): Promise<void> {
    const { redis, alerts, logger } = this.options;
    const outage = (await CLOSE.run(redis, [this.key(serial)], [])) as [string, string, string] | null;
    if (!outage) return;
    const [started, alerted, reason] = outage;
    const startedAt = Number(started);
    await alerts.remove(Outages.checkJobId(serial, startedAt)).catch((err: unknown) => {
      // Running right now: its claim finds the outage closed, or it is alerted and we follow up below.
      logger.debug({ err, serial }, 'offline check not removed');
    });
    if (alerted === '0') {
      logger.info({ serial, reason, offlineMs: at - startedAt }, 'camera back online within the debounce');
      return;
    }
    // The check claimed it but may have stopped before queueing camera_offline: make sure it is queued
    // (the same webhook id), so camera_online never arrives without it.
    if (alerted === 'claimed') await this.sendOffline(serial, startedAt, reason);
    await enqueueWebhook(
      this.options.webhooks,
      {
        event: 'camera_online',
        device_sn: serial,
        timestamp: utcTimestamp(at),
        offline_seconds: Math.max(0, Math.round((at - startedAt) / 1000)),
      },
      { webhookId: webhookId('camera_online', { deviceSn: serial, outageStartedAt: startedAt }) },
    );
    await SETTLE.run(redis, [this.key(serial)], [started, '']);
    logger.info({ serial, reason, offlineMs: at - startedAt }, 'camera back online: camera_online queued');
  }

  /** The offline-check job: camera_offline unless the outage closed within the debounce. */
  async check(serial: string, startedAt: number): Promise<OfflineCheckOutcome> {
    const { redis, logger } = this.options;
    const claim = (await CLAIM.run(redis, [this.key(serial)], [startedAt])) as [string, string] | null;
    if (!claim) return 'closed within the debounce';
    const [alerted, reason] = claim;
    if (alerted === '1') return 'already alerted';
    await this.sendOffline(serial, startedAt, reason);
    await SETTLE.run(redis, [this.key(serial)], [startedAt, '1']);
    logger.warn({ serial, reason, since: new Date(startedAt).toISOString() }, 'camera offline: alert queued');
    return 'alerted';
  }

  private async sendOffline(serial: string, startedAt: number, reason: string): Promise<void> {
    await enqueueWebhook(
      this.options.webhooks,
      { event: 'camera_offline', device_sn: serial, timestamp: utcTimestamp(startedAt), reason },
      { webhookId: webhookId('camera_offline', { deviceSn: serial, outageStartedAt: startedAt }) },
    );
  }
}
