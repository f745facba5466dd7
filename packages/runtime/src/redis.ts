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

/**
 * Share of maxmemory from which Redis counts as nearly full: /health lists it as a problem and
 * ingest raises a system_error, while there is still room to act (at 100 % with noeviction, which
 * BullMQ requires, every write is refused).
 */
export const REDIS_MEMORY_WARN_RATIO = 0.8;

export interface RedisMemory {
  used_bytes: number;
  /** 0: no limit set (Redis grows until the machine runs out). */
  max_bytes: number;
}

/** INFO memory's used_memory and maxmemory. */
export async function readRedisMemory(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { used_bytes: field('used_memory'), max_bytes: field('maxmemory') };
}

/** What to say when Redis is nearly full; null below REDIS_MEMORY_WARN_RATIO or without a limit. */
export function redisMemoryProblem(memory: RedisMemory): string | null {
  if (memory.max_bytes <= 0) return null;
  const share = memory.used_bytes / memory.max_bytes;
  if (share < REDIS_MEMORY_WARN_RATIO) return null;
  return (
    `memory at ${Math.round(share * 100)} % of maxmemory (${memory.used_bytes} of ${memory.max_bytes} bytes): ` +
    'every write is refused once it is full; raise maxmemory or free space'
  );
}
