import { addJob, cleanupJob } from '@eufy-relay/contracts';
import type { RecorderContext } from './context';

/** ffmpeg (or a rename, a write) failed because RECORDINGS_DIR has no space left. */
export function isDiskFull(err: unknown): boolean {
  return /ENOSPC|No space left on device/.test(
    err instanceof Error ? `${err.message} ${(err as { stderr?: unknown }).stderr ?? ''}` : String(err),
  );
}

export class DiskFullError extends Error {
  override readonly name = 'DiskFull';
}

/**
 * Asks the janitor for a run now (its disk pressure step frees space), instead of at its next
 * CLEANUP_INTERVAL_SECONDS. One request per minute whatever the number of recordings that hit the
 * full disk: the job id is the minute, and a job id already queued is not queued again.
 */
export async function requestDiskPressureRun(ctx: RecorderContext, now = Date.now()): Promise<void> {
  await addJob(
    ctx.janitor,
    cleanupJob,
    { trigger: 'disk_full' },
    {
      jobId: `disk-full-${Math.floor(now / 60_000)}`,
      attempts: 1,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
    },
  );
}
