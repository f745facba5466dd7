import type { WebhookEvent, WebhookPayload } from './webhooks';

/**
 * The webhook examples of the original design (docs/design.md, "Contracts"), verbatim: the shapes Workato
 * recipes were built against. For documentation (OpenAPI examples) and tests.
 */
export const SEED_WEBHOOK_EXAMPLES = {
  motion_detected: {
    event: 'motion_detected',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T14:30:22Z',
    video_url: 'https://your-app.onrender.com/recordings/T8600P2323209876_20250130_143022.mp4',
    video_status: 'recording',
  },
  motion_stopped: {
    event: 'motion_stopped',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T14:35:45Z',
    video_url: 'https://your-app.onrender.com/recordings/T8600P2323209876_20250130_143022.mp4',
    video_status: 'completed',
    duration_seconds: 323,
  },
  low_battery: {
    event: 'low_battery',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T10:15:00Z',
    battery_level: 15,
  },
  camera_offline: {
    event: 'camera_offline',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T08:00:00Z',
    reason: 'disconnected',
  },
  system_error: {
    event: 'system_error',
    operation: 'start_recording',
    error_type: 'ConnectionError',
    error_message: 'WebSocket not connected',
    retry_count: 3,
    timestamp: '2025-01-30T14:30:22Z',
    context: { device_sn: 'T8600P2323209876' },
    traceback: 'Traceback (most recent call last):\n...',
  },
} as const;

/** One example payload per webhook event; the type check fails while an event has none. */
export type WebhookExamples = { [E in WebhookEvent]: Extract<WebhookPayload, { event: E }> };

/**
 * An example of every webhook event: the seed's verbatim, then those added since. The contract test
 * parses each, so a new event gets its example checked against its schema.
 */
export const WEBHOOK_EXAMPLES = {
  ...SEED_WEBHOOK_EXAMPLES,
  camera_online: {
    event: 'camera_online',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T08:12:30Z',
    offline_seconds: 750,
  },
} as const satisfies WebhookExamples;
