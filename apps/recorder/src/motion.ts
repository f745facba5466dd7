import {
  addJob,
  recordingId,
  recordingSessionJob,
  type JobData,
  type motionSignalJob,
} from '@eufy-relay/contracts';
import { cameraSettings } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';
import { RecordingExistsError } from '@eufy-relay/recordings';
import { mirrorDevice, type RecorderContext } from './context';
import { sendMotionDetected } from './notify';

export type MotionOutcome =
  | { outcome: 'started'; recording_id: string }
  | { outcome: 'extended'; recording_id: string }
  | { outcome: 'snoozed'; until: number }
  | { outcome: 'ignored'; why: 'flag_cleared' | 'not_a_trigger' | 'stale' | 'disabled' };

/**
 * One motion signal from ingest: ignored unless it is a trigger that is on and recent; otherwise it
 * extends the camera's recording, or starts one (unless the camera is snoozed). The rule is applied
 * atomically in Redis (camera-state.ts), so recorders racing on one camera make one recording.
 */
export async function handleMotion(
  ctx: RecorderContext,
  motion: JobData<typeof motionSignalJob>,
  log: Logger,
): Promise<MotionOutcome> {
  const { cameras } = ctx;
  const camera = cameraSettings(ctx.config, motion.device_sn);
  if (!motion.state) return { outcome: 'ignored', why: 'flag_cleared' };
  // A camera switched off in the config records nothing and so announces no recording.
  if (!camera.enabled) return { outcome: 'ignored', why: 'disabled' };
  if (!camera.triggers.includes(motion.kind)) return { outcome: 'ignored', why: 'not_a_trigger' };
  const now = Date.now();
  // Another host's clock may run ahead: motion is never later than now.
  const at = Math.min(Date.parse(motion.at), now);
  // A signal that waited in the queue longer than the timeout would start a recording that is already over.
  if (now - at >= camera.motion_timeout_seconds * 1000) return { outcome: 'ignored', why: 'stale' };

  let startedAt = now;
  for (;;) {
    const result = await cameras.motion({
      deviceSn: motion.device_sn,
      candidateId: recordingId(motion.device_sn, startedAt),
      startedAt,
      motionAt: at,
      now,
    });
    switch (result.kind) {
      case 'bump':
        // The previous recording started in this same second: ids have one-second precision.
        startedAt = result.second * 1000;
        continue;
      case 'snoozed':
        return { outcome: 'snoozed', until: result.until };
      case 'extended':
        // A start whose recorder died half-way is completed by the next motion motion.
        if (!result.setup)
          await setUpRecording(ctx, motion.device_sn, result.recordingId, result.startedAt, log);
        return { outcome: 'extended', recording_id: result.recordingId };
      case 'started':
        if (result.replaced)
          log.warn(
            { device_sn: motion.device_sn, replaced: result.replaced },
            'a recording past its cap was never stopped (no recorder ran it): starting a new one',
          );
        await setUpRecording(ctx, motion.device_sn, result.recordingId, result.startedAt, log);
        log.info(
          { device_sn: motion.device_sn, recording_id: result.recordingId, kind: motion.kind },
          'recording started',
        );
        return { outcome: 'started', recording_id: result.recordingId };
    }
  }
}

/**
 * Index entry, motion_detected webhook (at once, before any video), the session job that records.
 * Every step is idempotent, so a retried or completed-by-another start does each once.
 */
async function setUpRecording(
  ctx: RecorderContext,
  sn: string,
  id: string,
  startedAt: number,
  log: Logger,
): Promise<void> {
  try {
    await ctx.store.create({ device_sn: sn, started_at: startedAt });
  } catch (err) {
    if (!(err instanceof RecordingExistsError)) throw err;
    log.debug({ recording_id: id }, 'recording entry already exists');
  }
  await sendMotionDetected(ctx.webhooks, ctx.config, { id, device_sn: sn, started_at: startedAt });
  await addJob(
    ctx.recordingSessions,
    recordingSessionJob,
    { recording_id: id, device_sn: sn },
    { jobId: id },
  );
  await ctx.cameras.markSetup(sn, id);
  await mirrorDevice(ctx, sn);
}
