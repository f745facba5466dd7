import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { RedisScript, redisKey } from '@eufy-relay/runtime';

export const DELIVERY_OUTCOMES = ['delivered', 'failed', 'rate_limited', 'skipped'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** One attempt to deliver one webhook, as the delivery log keeps it. */
export interface DeliveryAttempt {
  /** 1 for the first try; a replay starts again at 1. A rate-limited try is repeated under the same number. */
  attempt: number;
  /** When the attempt started (ISO-8601 UTC, milliseconds). */
  at: string;
  event: string;
  outcome: DeliveryOutcome;
  /** The receiver's HTTP status; null when none came back (timeout, connection error) or none was asked. */
  status_code: number | null;
  latency_ms: number | null;
  error: string | null;
}

export interface LoggedWebhook {
  webhook_id: string;
  /** Oldest first. */
  attempts: DeliveryAttempt[];
}

/** Attempts kept per webhook: the whole retry schedule and a replay or two, without letting one id grow forever. */
export const MAX_ATTEMPTS_PER_WEBHOOK = 50;

const RECORD = RedisScript.load(__dirname, 'delivery-record-3.lua');

/**
 * The capped delivery log in Redis: per webhook id its attempts (time, status code, latency, error),
 * for the latest WEBHOOK_LOG_MAX_WEBHOOKS ids; older ids are dropped whole. Keys:
 * `{REDIS_PREFIX}:delivery-log` (index) and `{REDIS_PREFIX}:delivery-log:{webhook id}`. Beside it,
 * `{REDIS_PREFIX}:delivery-totals` counts every attempt by outcome, trimmed never (for /metrics).
 */
export class DeliveryLog {
  private readonly index: string;
  private readonly totalsKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX' | 'WEBHOOK_LOG_MAX_WEBHOOKS'>,
  ) {
    this.index = redisKey(config, 'delivery-log');
    this.totalsKey = redisKey(config, 'delivery-totals');
  }

  private attemptsKey(webhookId: string): string {
    return `${this.index}:${webhookId}`;
  }

  async record(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    await RECORD.run(
      this.redis,
      [this.index, this.attemptsKey(webhookId), this.totalsKey],
      [
        webhookId,
        JSON.stringify(attempt),
        Date.parse(attempt.at),
        this.config.WEBHOOK_LOG_MAX_WEBHOOKS,
        MAX_ATTEMPTS_PER_WEBHOOK,
        `${this.index}:`,
        attempt.outcome,
      ],
    );
  }

  /** Attempts recorded so far by every notifier, per outcome (0 for an outcome never seen). */
  async totals(): Promise<Record<DeliveryOutcome, number>> {
    const counts = await this.redis.hgetall(this.totalsKey);
    return Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, Number(counts[o] ?? 0)])) as Record<
      DeliveryOutcome,
      number
    >;
  }

  /** Every kept attempt of one webhook, oldest first; empty when the id is unknown or was dropped. */
  async attempts(webhookId: string): Promise<DeliveryAttempt[]> {
    const entries = await this.redis.lrange(this.attemptsKey(webhookId), 0, -1);
    return entries.map((e) => JSON.parse(e) as DeliveryAttempt);
  }

  /** The `limit` webhooks attempted most recently, newest first, each with its attempts. */
  async recent(limit: number): Promise<LoggedWebhook[]> {
    const ids = await this.redis.zrevrange(this.index, 0, Math.max(limit, 1) - 1);
    return Promise.all(ids.map(async (id) => ({ webhook_id: id, attempts: await this.attempts(id) })));
  }
}
