import type { ChainableCommander, Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

export type HistoryConfig = Pick<Config, 'REDIS_PREFIX' | 'RETENTION_DAYS'>;

const DAY_MS = 86_400_000;

/** The dashboard's window: history is kept at least this long, even with a shorter retention. */
export const DASHBOARD_DAYS = 30;

/** Samples one series keeps at most, whatever the rate they come at (one an hour for 90 days fits). */
export const MAX_SAMPLES = 4096;

/** Days of history kept: RETENTION_DAYS (what else is kept that long), at least the dashboard's window. */
export function historyDays(config: HistoryConfig): number {
  return Math.max(config.RETENTION_DAYS, DASHBOARD_DAYS);
}

/** The UTC day of an instant, `YYYY-MM-DD`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The `days` UTC days ending with the one holding `now`, oldest first. */
export function lastDays(days: number, now: number): string[] {
  const today = Date.parse(utcDay(now));
  return Array.from({ length: days }, (_, i) => utcDay(today - (days - 1 - i) * DAY_MS));
}

export interface DayCounts {
  day: string;
  counts: Record<string, number>;
}

export interface Sample {
  at: number;
  value: string;
}

// KEYS[1] the series (sorted set, score = time, member = "<time>:<value>").
// ARGV: time ms, value, oldest time kept, samples kept, 1 to skip a value equal to the newest, ttl ms.
const APPEND_SAMPLE = `
if ARGV[5] == '1' then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1)[1]
  if newest and string.sub(newest, string.find(newest, ':', 1, true) + 1) == ARGV[2] then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. ':' .. ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`;

function decodeSample(member: string): Sample {
  const colon = member.indexOf(':');
  return { at: Number(member.slice(0, colon)), value: member.slice(colon + 1) };
}

/**
 * The history behind the statistics dashboard, bounded in Redis whatever runs for how long:
 *   {prefix}:history:{series}:day:{YYYY-MM-DD}  hash of counters of one UTC day, expiring
 *                                               historyDays() after that day
 *   {prefix}:history:{series}:samples          sorted set of timestamped values: older than
 *                                               historyDays() trimmed at each append, at most
 *                                               MAX_SAMPLES, gone after historyDays() without one
 * Writers queue their updates on the MULTI or pipeline of the write they belong to.
 */
export class History {
  private readonly keepMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly config: HistoryConfig,
  ) {
    this.keepMs = historyDays(config) * DAY_MS;
  }

  dayKey(series: string, day: string): string {
    return redisKey(this.config, 'history', series, 'day', day);
  }

  samplesKey(series: string): string {
    return redisKey(this.config, 'history', series, 'samples');
  }

  /** Adds to counters of the UTC day holding `at`. */
  countDay(chain: ChainableCommander, series: string, at: number, increments: Record<string, number>) {
    const day = utcDay(at);
    const key = this.dayKey(series, day);
    for (const [field, by] of Object.entries(increments)) if (by !== 0) chain.hincrbyfloat(key, field, by);
    return chain.pexpireat(key, Date.parse(day) + DAY_MS + this.keepMs);
  }

  /** The counters of the last `days` UTC days up to `now`, oldest first; a day without any has none. */
  async readDays(series: string, days: number, now = Date.now()): Promise<DayCounts[]> {
    const names = lastDays(Math.min(days, historyDays(this.config)), now);
    const pipeline = this.redis.pipeline();
    for (const day of names) pipeline.hgetall(this.dayKey(series, day));
    const results = (await pipeline.exec()) ?? [];
    return names.map((day, i) => {
      const [err, raw] = results[i] ?? [];
      if (err) throw err;
      const counts = Object.fromEntries(
        Object.entries((raw ?? {}) as Record<string, string>).map(([k, v]) => [k, Number(v)]),
      );
      return { day, counts };
    });
  }

  /** Appends a sample at `at`; with `whenChanged`, only when the value differs from the newest one. */
  appendSample(
    chain: ChainableCommander,
    series: string,
    at: number,
    value: string,
    options: { whenChanged?: boolean } = {},
  ) {
    return chain.eval(
      APPEND_SAMPLE,
      1,
      this.samplesKey(series),
      at,
      value,
      at - this.keepMs,
      MAX_SAMPLES,
      options.whenChanged ? 1 : 0,
      this.keepMs,
    );
  }

  /**
   * Samples from `from` on, oldest first, preceded by the last one before `from` (the value the
   * window starts with) when there is one.
   */
  async readSamples(series: string, from: number): Promise<Sample[]> {
    const key = this.samplesKey(series);
    const [before, within] = await Promise.all([
      this.redis.zrevrangebyscore(key, `(${from}`, '-inf', 'LIMIT', 0, 1),
      this.redis.zrangebyscore(key, from, '+inf'),
    ]);
    return [...before, ...within].map(decodeSample);
  }
}

/** Runs a MULTI or pipeline and throws the first error of its commands (exec() only reports them). */
export async function runChain(chain: ChainableCommander): Promise<unknown[]> {
  const replies = (await chain.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
