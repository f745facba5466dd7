import { randomUUID } from 'node:crypto';
import type { QueueEvents } from 'bullmq';
import { addJob, cleanupJob, type JobQueue } from '@eufy-relay/contracts';
import { CLEANUP_JOB_OPTIONS } from './schedule';
import { cleanupResultSchema, type CleanupResult } from './result';

/** No janitor finished the run in time (none running, or a long run ahead of it). */
export class CleanupTimeoutError extends Error {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    readonly cancelled: boolean,
  ) {
    super(
      `cleanup run ${jobId} did not finish within ${timeoutMs} ms` +
        (cancelled ? ' (it had not started and was cancelled)' : ' (it is still running or queued)'),
    );
    this.name = 'CleanupTimeoutError';
  }
}

export class CleanupFailedError extends Error {
  constructor(
    readonly jobId: string,
    reason: string,
  ) {
    super(`cleanup run ${jobId} failed: ${reason}`);
    this.name = 'CleanupFailedError';
  }
}

/**
 * POST /cleanup: enqueues a manual run on the janitor queue and waits for its result. `queue` is
 * the janitor queue and `events` QueueEvents on it (the caller owns both). A run that has not
 * started when the time is up is removed, so a janitor that comes back later does not run a stale
 * request; one already running finishes and lands in the run history.
 */
export async function requestCleanup(
  queue: JobQueue<typeof cleanupJob>,
  events: QueueEvents,
  timeoutMs: number,
): Promise<CleanupResult> {
  const job = await addJob(
    queue,
    cleanupJob,
    { trigger: 'manual' },
    { ...CLEANUP_JOB_OPTIONS, jobId: `manual-${randomUUID()}` },
  );
  const jobId = job.id!;
  let value: unknown;
  try {
    value = await job.waitUntilFinished(events, timeoutMs);
  } catch (err) {
    // BullMQ's own wait timeout (its timer may fire a millisecond early, so elapsed time cannot tell).
    if (/timed out before finishing/.test((err as Error).message)) {
      const state = await job.getState();
      const cancelled = (state === 'waiting' || state === 'prioritized') && (await removeQuietly(job));
      throw new CleanupTimeoutError(jobId, timeoutMs, cancelled);
    }
    throw new CleanupFailedError(jobId, (err as Error).message);
  }
  return cleanupResultSchema.parse(value);
}

/** Removing fails when a worker has just taken the job; then it runs, which is fine. */
async function removeQuietly(job: { remove(): Promise<void> }): Promise<boolean> {
  try {
    await job.remove();
    return true;
  } catch {
    return false;
  }
}
