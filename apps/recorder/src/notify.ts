import type { Queue } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import { recordingUrl, utcTimestamp } from '@eufy-relay/contracts';
import type { VideoStatus } from '@eufy-relay/recordings';
import { enqueueWebhook } from '@eufy-relay/webhooks';

type UrlConfig = Pick<Config, 'PUBLIC_BASE_URL' | 'URL_SIGNING_SECRET' | 'URL_TTL_SECONDS'>;

/** The recording's public URL, signed (expiring) when URL_SIGNING_SECRET is set. */
export function videoUrl(config: UrlConfig, id: string): string {
  const signing = config.URL_SIGNING_SECRET
    ? { secret: config.URL_SIGNING_SECRET, ttlSeconds: config.URL_TTL_SECONDS }
    : undefined;
  return recordingUrl(config.PUBLIC_BASE_URL, id, { signing });
}

/**
 * Webhook ids derive from the recording id, so however often a start or a finish is retried (or
 * taken over by another recorder), the receiver gets one motion_detected and one motion_stopped.
 */
export const motionDetectedId = (id: string) => `motion_detected.${id}`;
export const motionStoppedId = (id: string) => `motion_stopped.${id}`;

export async function sendMotionDetected(
  webhooks: Queue,
  config: UrlConfig,
  recording: { id: string; device_sn: string; started_at: number },
): Promise<void> {
  await enqueueWebhook(
    webhooks,
    {
      event: 'motion_detected',
      device_sn: recording.device_sn,
      timestamp: utcTimestamp(recording.started_at),
      video_url: videoUrl(config, recording.id),
      video_status: 'recording',
    },
    { webhookId: motionDetectedId(recording.id) },
  );
}

export async function sendMotionStopped(
  webhooks: Queue,
  config: UrlConfig,
  recording: {
    id: string;
    device_sn: string;
    ended_at: number;
    duration_seconds: number;
    video_status: Exclude<VideoStatus, 'recording'>;
    reason: string | null;
  },
): Promise<void> {
  await enqueueWebhook(
    webhooks,
    {
      event: 'motion_stopped',
      device_sn: recording.device_sn,
      timestamp: utcTimestamp(recording.ended_at),
      video_url: videoUrl(config, recording.id),
      video_status: recording.video_status,
      duration_seconds: recording.duration_seconds,
      ...(recording.reason ? { reason: recording.reason } : {}),
    },
    { webhookId: motionStoppedId(recording.id) },
  );
}
