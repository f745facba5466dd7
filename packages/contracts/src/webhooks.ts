import { z } from 'zod';
import { DEVICE_SN, RECORDING_ID_SOURCE } from './recording';
import { UTC_TIMESTAMP } from './time';

/**
 * The webhook payloads of the original design (docs/design.md, "Contracts"), field for field. Objects are
 * strict: a producer cannot send a field a Workato recipe does not expect by accident.
 */
const timestamp = z.string().regex(UTC_TIMESTAMP, 'expected a UTC timestamp like 2025-01-30T14:30:22Z');
const deviceSn = z.string().regex(DEVICE_SN, 'expected a device serial of letters and digits');
const VIDEO_PATH = new RegExp(`^/(?:.*/)?recordings/${RECORDING_ID_SOURCE}\\.mp4$`);
const videoUrl = z
  .url({ protocol: /^https?$/ })
  .refine(
    (u) => VIDEO_PATH.test(new URL(u).pathname),
    'expected PUBLIC_BASE_URL/recordings/{device_sn}_{YYYYMMDD_HHMMSS}.mp4',
  );

export const motionDetectedPayload = z.strictObject({
  event: z.literal('motion_detected'),
  device_sn: deviceSn,
  timestamp,
  video_url: videoUrl,
  video_status: z.literal('recording'),
});

/** `completed` is the seed's value; `failed` (video broke off) and `no_video` (never got a stream) carry a reason. */
export const motionStoppedPayload = z.strictObject({
  event: z.literal('motion_stopped'),
  device_sn: deviceSn,
  timestamp,
  video_url: videoUrl,
  video_status: z.enum(['completed', 'failed', 'no_video']),
  duration_seconds: z.number().int().nonnegative(),
  reason: z.string().min(1).optional(),
});

export const lowBatteryPayload = z.strictObject({
  event: z.literal('low_battery'),
  device_sn: deviceSn,
  timestamp,
  battery_level: z.number().int().min(0).max(100),
});

export const cameraOfflinePayload = z.strictObject({
  event: z.literal('camera_offline'),
  device_sn: deviceSn,
  timestamp,
  reason: z.string().min(1),
});

/** Beyond the seed: closes an outage that produced camera_offline. */
export const cameraOnlinePayload = z.strictObject({
  event: z.literal('camera_online'),
  device_sn: deviceSn,
  timestamp,
  offline_seconds: z.number().int().nonnegative(),
});

export const systemErrorPayload = z.strictObject({
  event: z.literal('system_error'),
  operation: z.string().min(1),
  error_type: z.string().min(1),
  error_message: z.string(),
  retry_count: z.number().int().nonnegative(),
  timestamp,
  context: z.record(z.string(), z.unknown()),
  traceback: z.string().nullable(),
});

export const webhookPayload = z.discriminatedUnion('event', [
  motionDetectedPayload,
  motionStoppedPayload,
  lowBatteryPayload,
  cameraOfflinePayload,
  cameraOnlinePayload,
  systemErrorPayload,
]);

export type WebhookPayload = z.infer<typeof webhookPayload>;
export type WebhookEvent = WebhookPayload['event'];
export type MotionDetectedPayload = z.infer<typeof motionDetectedPayload>;
export type MotionStoppedPayload = z.infer<typeof motionStoppedPayload>;
export type LowBatteryPayload = z.infer<typeof lowBatteryPayload>;
export type CameraOfflinePayload = z.infer<typeof cameraOfflinePayload>;
export type CameraOnlinePayload = z.infer<typeof cameraOnlinePayload>;
export type SystemErrorPayload = z.infer<typeof systemErrorPayload>;
