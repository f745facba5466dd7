import type { Logger } from '@eufy-relay/logger';
import type { MediaInfo } from '@eufy-relay/media';
import { RecordingStatusConflictError, type VideoStatus } from '@eufy-relay/recordings';
import { boundedReason } from '@eufy-relay/contracts';
import { assembleVideo, keepRecordedVideo } from './assemble';
import type { Decision, StopReason } from './camera-state';
import { mirrorDevice, type RecorderContext } from './context';
import { sendMotionStopped } from './notify';
import { makeThumbnail } from './thumbnail';

export type StopDecision = Extract<Decision, { kind: 'stop' }>;

export interface SessionSummary {
  recording_id: string;
  outcome: 'finished' | 'already_finished' | 'missing';
  video_status?: Exclude<VideoStatus, 'recording'>;
  stop_reason?: StopReason;
  duration_seconds?: number;
}

/** The recording being finished, and where its finish reports. */
export interface FinishingRecording {
  ctx: RecorderContext;
  id: string;
  sn: string;
  startedAt: number;
  log: Logger;
}

/**
 * Every step can run again (after a crash, on another recorder) with the same result: the file is
 * assembled once, motion_stopped has a fixed webhook id, and the index is finished last.
 */
export async function finishRecording(
  recording: FinishingRecording,
  decision: StopDecision,
  options: { lastResort?: boolean } = {},
): Promise<SessionSummary> {
  const { ctx, id, sn, startedAt, log } = recording;
  const { store, files, sessions, webhooks, config } = ctx;
  const deps = { files, sessions, logger: log };
  let video: (MediaInfo & { gapSeconds?: number }) | null;
  let unstitched: string | null = null;
  const problem = await sessions.problem(id);
  try {
    video = await assembleVideo(id, deps);
  } catch (err) {
    // Thrown to BullMQ, the finish is retried; only the last attempt settles for less.
    if (!options.lastResort) throw err;
    const kept = await keepRecordedVideo(id, deps);
    video = kept?.info ?? null;
    const why = (err as Error).message;
    // After a failed job the problem already says why (the same error): not twice.
    unstitched =
      `its segments could not be stitched${problem?.includes(why) ? '' : ` (${why})`}` +
      (kept
        ? `: kept ${kept.keptSeconds.toFixed(1)} s of the ${kept.recordedSeconds.toFixed(1)} s recorded`
        : '');
    log.error({ err }, 'could not stitch the recording: kept what was recorded');
  }
  if (video) await makeThumbnail(files, id, log);
  const failed =
    unstitched !== null || (decision.reason !== 'motion_timeout' && decision.reason !== 'max_duration');
  const videoStatus = !video ? 'no_video' : failed ? 'failed' : 'completed';
  const reason =
    videoStatus === 'completed'
      ? null
      : boundedReason(
          [problem ?? defaultFailureReason(decision.reason, video), unstitched].filter(Boolean).join('; '),
        );
  const duration = Math.max(0, Math.round((decision.endedAt - startedAt) / 1000));
  await sendMotionStopped(webhooks, config, {
    id: id,
    device_sn: sn,
    ended_at: decision.endedAt,
    duration_seconds: duration,
    video_status: videoStatus,
    reason,
  });
  try {
    await store.finish(id, {
      status: videoStatus === 'completed' ? 'completed' : 'failed',
      video_status: videoStatus,
      ended_at: decision.endedAt,
      duration_seconds: duration,
      stop_reason: decision.reason,
      failure_reason: reason,
      waiting_for_slot_since: null,
      bytes: video?.sizeBytes ?? 0,
      gap_seconds: video?.gapSeconds ?? 0,
      ...(video
        ? {
            codec: video.videoCodec,
            width: video.width,
            height: video.height,
            has_audio: video.hasAudio,
          }
        : {}),
    });
  } catch (err) {
    if (!(err instanceof RecordingStatusConflictError)) throw err;
  }
  // After the index says finished (the upload stores only finished recordings), before the
  // session record goes: a crash in between re-runs the finish, and the job id makes it one upload.
  if (video) await ctx.uploads?.enqueue(id);
  await mirrorDevice(ctx, sn);
  await sessions.remove(id);
  log.info(
    { stop_reason: decision.reason, video_status: videoStatus, duration_seconds: duration, reason },
    'recording finished',
  );
  return {
    recording_id: id,
    outcome: 'finished',
    video_status: videoStatus,
    stop_reason: decision.reason,
    duration_seconds: duration,
  };
}

function defaultFailureReason(reason: StopReason, video: MediaInfo | null): string {
  if (reason === 'abandoned')
    return 'no recorder was running this recording and the camera has started a newer one';
  return video ? `the recording ended early (${reason})` : 'the livestream delivered no video';
}
