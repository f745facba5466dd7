import type { JobsOptions } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

/** The one job scheduler of the janitor queue; upserting it on every boot is idempotent. */
export const CLEANUP_SCHEDULER_ID = 'janitor-cleanup';

/** How many finished runs the history and the queue keep. */
export const CLEANUP_HISTORY_LENGTH = 100;

/** Cleanup jobs are not retried (the next run comes anyway) and only recent ones are kept. */
export const CLEANUP_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: CLEANUP_HISTORY_LENGTH },
  removeOnFail: { count: CLEANUP_HISTORY_LENGTH },
};

/** The Redis list of recent run results (JSON CleanupResult, newest first). */
export function cleanupHistoryKey(config: Pick<Config, 'REDIS_PREFIX'>): string {
  return redisKey(config, 'janitor', 'runs');
}
