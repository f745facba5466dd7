import type { Logger } from '@eufy-relay/logger';
import { redisKey } from '@eufy-relay/runtime';
import type { RecorderContext } from './context';
import { finishOrphan } from './session';

/** Job states in which a recording's session job still runs it, or will. */
const OWNED = new Set(['active', 'waiting', 'wait', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Finds recordings left `recording` with no live owner, and ends them as failed (what was recorded
 * kept, one motion_stopped). No owner: the session job (its id is the recording's) is gone, or failed
 * for good and its last-resort finish could not run (Redis was away, the process died). A recording
 * is looked at only when its entry has not changed for `quietMs`: a session that runs renews it, and
 * a start writes the entry just before it queues the job. One recorder ends a given recording (a
 * lock in Redis); the others skip it.
 */
export async function sweepOrphans(
  ctx: RecorderContext,
  quietMs: number,
  log: Logger,
  now = Date.now(),
): Promise<string[]> {
  const ended: string[] = [];
  for (const recording of await ctx.store.listInProgress()) {
    if (now - recording.updated_at < quietMs) continue;
    const job = await ctx.recordingSessions.getJob(recording.id);
    const state = job ? await job.getState() : 'gone';
    if (OWNED.has(state)) continue;
    const lock = redisKey(ctx.config, 'recorder', 'sweep', recording.id);
    if ((await ctx.redis.set(lock, String(process.pid), 'PX', 600_000, 'NX')) !== 'OK') continue;
    try {
      const why = `no recorder owned it: its session job was ${state === 'gone' ? 'gone' : state}`;
      log.warn(
        { recording_id: recording.id, job_state: state },
        'recording without owner: ending it as failed',
      );
      await finishOrphan(ctx, recording, why, log.child({ recording_id: recording.id }));
      ended.push(recording.id);
    } catch (err) {
      log.error(
        { err, recording_id: recording.id },
        'could not end a recording without owner: the next sweep tries again',
      );
    } finally {
      await ctx.redis.del(lock);
    }
  }
  return ended;
}
