import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

/** One entry of the recent-errors list (GET /errors): the system_error fields plus an id. */
export interface RecordedError {
  id: string;
  operation: string;
  error_type: string;
  error_message: string;
  retry_count: number;
  /** UTC, second precision, like every webhook timestamp. */
  timestamp: string;
  context: Record<string, unknown>;
  traceback: string | null;
}

export interface RecentError extends RecordedError {
  /** 1 + the same operation and error type folded into this entry within ERROR_FOLD_SECONDS. */
  occurrences: number;
}

export function recentErrorsKey(config: Pick<Config, 'REDIS_PREFIX'>): string {
  return redisKey(config, 'errors', 'recent');
}

export function foldedCountsKey(config: Pick<Config, 'REDIS_PREFIX'>): string {
  return redisKey(config, 'errors', 'folded');
}

/** The newest `limit` errors (default: all kept, RECENT_ERRORS_MAX), newest first. */
export async function readRecentErrors(
  redis: Redis,
  config: Pick<Config, 'REDIS_PREFIX' | 'RECENT_ERRORS_MAX'>,
  limit: number = config.RECENT_ERRORS_MAX,
): Promise<RecentError[]> {
  const entries = (await redis.lrange(recentErrorsKey(config), 0, Math.max(limit, 1) - 1)).map(
    (e) => JSON.parse(e) as RecordedError,
  );
  if (entries.length === 0) return [];
  const folded = await redis.hmget(foldedCountsKey(config), ...entries.map((e) => e.id));
  return entries.map((e, i) => ({ ...e, occurrences: 1 + Number(folded[i] ?? 0) }));
}
