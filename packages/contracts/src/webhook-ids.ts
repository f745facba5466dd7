import { JOB_ID } from './jobs';
import type { WebhookEvent } from './webhooks';

/**
 * What identifies one occurrence of each webhook event. The webhook id, `{event}.{key parts}`, is the
 * de-duplication key Workato and other receivers store (`webhook-id`, `X-Workato-Dedup`) and the job
 * id of its delivery, so the same occurrence must always give the same id: across retries, replays,
 * restarts and producers that run twice. Persisted: changing a key changes what receivers de-duplicate.
 * A new event fails the type check here until it says what identifies it.
 */
const WEBHOOK_ID_PARTS = {
  /** One per recording. */
  motion_detected: (key: { recordingId: string }) => [key.recordingId],
  motion_stopped: (key: { recordingId: string }) => [key.recordingId],
  /** One per low reading (epoch ms of the reading); the cooldown decides which readings get one. */
  low_battery: (key: { deviceSn: string; at: number }) => [key.deviceSn, key.at],
  /** One per outage, named by its start (epoch ms). */
  camera_offline: (key: { deviceSn: string; outageStartedAt: number }) => [key.deviceSn, key.outageStartedAt],
  camera_online: (key: { deviceSn: string; outageStartedAt: number }) => [key.deviceSn, key.outageStartedAt],
  /** One per reported error of the recent-errors list (folded repeats send none). */
  system_error: (key: { errorId: string }) => [key.errorId],
} satisfies { [E in WebhookEvent]: (key: never) => readonly (string | number)[] };

export type WebhookIdKey<E extends WebhookEvent> = Parameters<(typeof WEBHOOK_ID_PARTS)[E]>[0];

/** The webhook id of one occurrence of `event`; throws when the key makes an id BullMQ cannot take. */
export function webhookId<E extends WebhookEvent>(event: E, key: WebhookIdKey<E>): string {
  const parts = WEBHOOK_ID_PARTS[event] as (key: WebhookIdKey<E>) => readonly (string | number)[];
  const id = [event, ...parts(key)].join('.');
  if (!JOB_ID.test(id)) throw new Error(`webhook id ${JSON.stringify(id)} must match ${JOB_ID}`);
  return id;
}
