import type { Redis } from 'ioredis';
import type { ErrorReporter } from '@eufy-relay/errors';
import type { Logger } from '@eufy-relay/logger';
import { readRedisMemory, redisMemoryProblem } from '@eufy-relay/runtime';

/** Redis is nearly full (REDIS_MEMORY_WARN_RATIO of its maxmemory). */
export class RedisMemoryHighError extends Error {
  override readonly name = 'RedisMemoryHigh';
}

/**
 * Looks at Redis's memory every `everyMs` and raises a system_error while it is nearly full, before
 * writes are refused (the reporter folds repeats within ERROR_FOLD_SECONDS). Ingest runs it: one
 * process that always runs and writes first when Redis fills. Returns the stop function.
 */
export function watchRedisMemory(
  redis: Redis,
  reporter: Pick<ErrorReporter, 'report'>,
  everyMs: number,
  logger: Logger,
): () => void {
  const look = async () => {
    const memory = await readRedisMemory(redis);
    const problem = redisMemoryProblem(memory);
    if (!problem) return;
    logger.warn({ memory }, `Redis ${problem}`);
    await reporter.report('redis_memory', new RedisMemoryHighError(`Redis ${problem}`), {
      context: { used_memory_bytes: memory.used_bytes, maxmemory_bytes: memory.max_bytes },
    });
  };
  const timer = setInterval(() => {
    look().catch((err: unknown) => logger.debug({ err }, 'could not check the memory of Redis'));
  }, everyMs);
  return () => clearInterval(timer);
}
