import type { Config } from '@eufy-relay/config';
import { recordingUrl, urlSigning, utcTimestamp, webhookId } from '@eufy-relay/contracts';
import type { VideoStatus } from '@eufy-relay/recordings';
import { enqueueWebhook, type WebhookQueue } from '@eufy-relay/webhooks';

type UrlConfig = Pick<Config, 'PUBLIC_BASE_URL' | 'URL_SIGNING_SECRET' | 'URL_TTL_SECONDS'>;

/** The recording's public URL, signed (expiring) when URL_SIGNING_SECRET is set. */
export function videoUrl(config: UrlConfig, id: string): string {
  return recordingUrl(config.PUBLIC_BASE_URL, id, { signing: urlSigning(config) });
}

// Webhook ids derive from the recording id, so however often a start or a finish is retried (or
// taken over by another recorder), the receiver gets one motion_detected and one motion_stopped.

export async function sendMotionDetected(
  webhooks: WebhookQueue,
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
    { webhookId: webhookId('motion_detected', { recordingId: recording.id }) },
  );
}

export async function sendMotionStopped(
  webhooks: WebhookQueue,
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
      ...(recording.reason ? { reason: recording.reason.slice(0, 1000) } : {}),
    },
    { webhookId: webhookId('motion_stopped', { recordingId: recording.id }) },
  );
}
