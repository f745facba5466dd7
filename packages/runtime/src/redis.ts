import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '@eufy-relay/config';

/**
 * Connection options per use (docs/design.md, "Why this stack"):
 * - `worker`: BullMQ workers and anything that blocks must wait for Redis forever
 *   (maxRetriesPerRequest: null), or a Redis restart kills the worker.
 * - `producer`: fails fast while Redis is away (no offline queue), so the caller can buffer and
 *   retry itself instead of piling unbounded commands in memory.
 * Key isolation uses BullMQ's `prefix` and our own key builder, never ioredis `keyPrefix`.
 */
export type RedisUse = 'worker' | 'producer';

export function redisOptions(use: RedisUse, connectionName?: string): RedisOptions {
  const common: RedisOptions = {
    connectionName,
    // Reconnect quickly at first, then every 2 s at most, forever: Redis restarts must heal on their own.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  return use === 'worker'
    ? { ...common, maxRetriesPerRequest: null, enableReadyCheck: true }
    : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false };
}

export function createRedis(
  config: Pick<Config, 'REDIS_URL'>,
  use: RedisUse,
  connectionName?: string,
): Redis {
  return new Redis(config.REDIS_URL, redisOptions(use, connectionName));
}

/** Keys the product writes outside BullMQ: `{REDIS_PREFIX}:{part}:{part}…`. */
export function redisKey(config: Pick<Config, 'REDIS_PREFIX'>, ...parts: string[]): string {
  return [config.REDIS_PREFIX, ...parts].join(':');
}

/**
 * Deletes every key under `{prefix}:` (SCAN, never KEYS): how a test, or the removal of a tenant,
 * leaves the shared Redis as it found it.
 */
export async function deletePrefixKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

/**
 * Resolves once the connection is ready. A `producer` connection refuses commands until then (no
 * offline queue), so a role waits for this at start; rejects if the connection is closed first.
 */
export function redisReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      redis.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      redis.off('ready', onReady);
      reject(new Error('the Redis connection was closed before it became ready'));
    };
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}
