import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { History, runChain, type HistoryConfig } from '@eufy-relay/history';
import { RedisScript, redisKey } from '@eufy-relay/runtime';
import { HISTORY_MAX_AGE_SECONDS } from './queue';

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

/**
 * Upper bounds (seconds) of the latency histogram kept beside the totals and per day: from a receiver
 * on the same network to WEBHOOK_TIMEOUT_MS's default.
 */
export const LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The history series of delivery attempts per day (@eufy-relay/history). */
export const DELIVERIES_HISTORY = 'webhooks';

/**
 * What one attempt adds to the counters (the all-time totals and its day's): its outcome, and with a
 * latency, the latency count, sum and the one histogram bucket it falls in (`latency_le:+Inf` past the last).
 */
function attemptCounts(attempt: DeliveryAttempt): Record<string, number> {
  const counts: Record<string, number> = { [attempt.outcome]: 1 };
  if (attempt.latency_ms !== null) {
    const seconds = attempt.latency_ms / 1000;
    const bucket = LATENCY_BUCKETS_SECONDS.find((le) => seconds <= le) ?? '+Inf';
    counts.latency_count = 1;
    counts.latency_sum_ms = attempt.latency_ms;
    counts[`latency_le:${bucket}`] = 1;
  }
  return counts;
}

export interface LatencyHistogram {
  /** Cumulative counts per upper bound (seconds), as Prometheus histograms count; the last is +Inf. */
  buckets: { le: number; count: number }[];
  count: number;
  sum_seconds: number;
}

function histogramOf(counts: Record<string, number | string>): LatencyHistogram {
  let cumulative = 0;
  const buckets = [...LATENCY_BUCKETS_SECONDS, Infinity].map((le) => {
    cumulative += Number(counts[`latency_le:${le === Infinity ? '+Inf' : le}`] ?? 0);
    return { le, count: cumulative };
  });
  return {
    buckets,
    count: Number(counts.latency_count ?? 0),
    sum_seconds: Number(counts.latency_sum_ms ?? 0) / 1000,
  };
}

/** The smallest bucket bound holding at least `q` of the attempts: an upper bound of the quantile. */
function quantileBound(histogram: LatencyHistogram, q: number): number | null {
  if (histogram.count === 0) return null;
  return histogram.buckets.find((b) => b.count >= q * histogram.count)!.le;
}

export interface DeliveriesPerDay {
  /** UTC days, `YYYY-MM-DD`, oldest first. */
  days: string[];
  /** Attempts per outcome, one value per day. */
  outcomes: Record<DeliveryOutcome, number[]>;
  /**
   * Attempts that got an answer or timed out, their mean latency and the bucket bound under which 95 %
   * fell (null without attempts, or when 5 % took longer than the last bound).
   */
  latency: { count: number[]; mean_ms: (number | null)[]; p95_upper_ms: (number | null)[] };
}

// Sent inside the MULTI that also counts the attempt, so by its source (EVAL), not by its sha.
const RECORD = RedisScript.load(__dirname, 'delivery-record-2.lua');

/**
 * The capped delivery log in Redis: per webhook id its attempts (time, status code, latency, error),
 * for the latest WEBHOOK_LOG_MAX_WEBHOOKS ids attempted within HISTORY_MAX_AGE_SECONDS; older ids
 * are dropped whole (a hundred per write at most, so a write stays short). Keys:
 * `{REDIS_PREFIX}:delivery-log` (index) and `{REDIS_PREFIX}:delivery-log:{webhook id}`. Beside it,
 * `{REDIS_PREFIX}:delivery-totals` counts every attempt by outcome and the latency histogram, trimmed
 * never (for /metrics), and the history series `webhooks` the same per UTC day (for the dashboard).
 */
export class DeliveryLog {
  private readonly index: string;
  private readonly totalsKey: string;
  private readonly history: History;

  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'WEBHOOK_LOG_MAX_WEBHOOKS'> & HistoryConfig,
  ) {
    this.index = redisKey(config, 'delivery-log');
    this.totalsKey = redisKey(config, 'delivery-totals');
    this.history = new History(redis, config);
  }

  private attemptsKey(webhookId: string): string {
    return `${this.index}:${webhookId}`;
  }

  async record(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    const at = Date.parse(attempt.at);
    const chain = this.redis.multi();
    chain.eval(
      RECORD.source,
      RECORD.numberOfKeys,
      this.index,
      this.attemptsKey(webhookId),
      webhookId,
      JSON.stringify(attempt),
      at,
      this.config.WEBHOOK_LOG_MAX_WEBHOOKS,
      MAX_ATTEMPTS_PER_WEBHOOK,
      `${this.index}:`,
      at - HISTORY_MAX_AGE_SECONDS * 1000,
    );
    const counts = attemptCounts(attempt);
    for (const [field, by] of Object.entries(counts)) chain.hincrbyfloat(this.totalsKey, field, by);
    this.history.countDay(chain, DELIVERIES_HISTORY, at, counts);
    await runChain(chain);
  }

  /** Latency of every attempt that got an answer or timed out, by every notifier so far. */
  async latency(): Promise<LatencyHistogram> {
    return histogramOf(await this.redis.hgetall(this.totalsKey));
  }

  /** Attempts per UTC day over the last `days` days up to `now`, by outcome, with their latency. */
  async perDay(days: number, now = Date.now()): Promise<DeliveriesPerDay> {
    const history = await this.history.readDays(DELIVERIES_HISTORY, days, now);
    const histograms = history.map((d) => histogramOf(d.counts));
    return {
      days: history.map((d) => d.day),
      outcomes: Object.fromEntries(
        DELIVERY_OUTCOMES.map((o) => [o, history.map((d) => d.counts[o] ?? 0)]),
      ) as Record<DeliveryOutcome, number[]>,
      latency: {
        count: histograms.map((h) => h.count),
        mean_ms: histograms.map((h) => (h.count ? Math.round((h.sum_seconds * 1000) / h.count) : null)),
        p95_upper_ms: histograms.map((h) => {
          const bound = quantileBound(h, 0.95);
          return bound !== null && Number.isFinite(bound) ? bound * 1000 : null;
        }),
      },
    };
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
