import type { Job, JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Config } from '@eufy-relay/config';
import {
  JOB_ID,
  addJob,
  deliverWebhookJob,
  openQueue,
  type JobQueue,
  type webhookPayload,
} from '@eufy-relay/contracts';
import { WEBHOOK_BACKOFF } from './retry';

/**
 * Delivered webhooks are history (the delivery log keeps their attempts), so BullMQ keeps only the
 * latest of them; dead ones are kept until someone replays or removes them (Bull Board, replayWebhook).
 */
export const KEEP_COMPLETED_WEBHOOKS = { count: 1000, age: 7 * 24 * 3600 };

export function webhookJobOptions(config: Pick<Config, 'WEBHOOK_RETRY_SCHEDULE_SECONDS'>): JobsOptions {
  return {
    attempts: config.WEBHOOK_RETRY_SCHEDULE_SECONDS.length + 1,
    backoff: { type: WEBHOOK_BACKOFF },
    removeOnComplete: KEEP_COMPLETED_WEBHOOKS,
    removeOnFail: false,
  };
}

/**
 * The webhooks queue as producers and the notifier open it: under REDIS_PREFIX, with every job
 * carrying the retry schedule (attempts + the notifier's backoff) and the retention above.
 */
export type WebhookQueue = JobQueue<typeof deliverWebhookJob>;

export function openWebhookQueue(
  config: Pick<Config, 'REDIS_PREFIX' | 'WEBHOOK_RETRY_SCHEDULE_SECONDS'>,
  connection: Redis,
): WebhookQueue {
  return openQueue(deliverWebhookJob, {
    connection,
    prefix: config.REDIS_PREFIX,
    defaultJobOptions: webhookJobOptions(config),
  });
}

export interface EnqueueWebhookOptions {
  /**
   * Sent as `webhook-id` and `X-Workato-Dedup`, and the BullMQ job id: enqueueing the same id again
   * is a no-op while that job is kept. Built by `webhookId(event, key)` of `@eufy-relay/contracts`.
   */
  webhookId: string;
}

/**
 * Validates the payload against its contract and queues it for the notifier. Throws (before anything
 * reaches Redis) on a payload that breaks the contract or an id BullMQ cannot use. When the id is
 * already queued nothing changes in Redis (the returned Job is BullMQ's local copy of this call).
 */
export async function enqueueWebhook(
  queue: WebhookQueue,
  payload: z.input<typeof webhookPayload>,
  { webhookId }: EnqueueWebhookOptions,
): Promise<Job> {
  const backoff = queue.defaultJobOptions.backoff;
  if (typeof backoff !== 'object' || backoff.type !== WEBHOOK_BACKOFF) {
    throw new Error(
      'open the webhooks queue with openWebhookQueue(config, redis) so its jobs carry the retry schedule',
    );
  }
  return addJob(
    queue,
    deliverWebhookJob,
    { webhook_id: webhookId, payload, created_at: new Date().toISOString() },
    { jobId: webhookId },
  );
}

export type ReplayResult =
  | { outcome: 'requeued' }
  | { outcome: 'not_found' }
  | { outcome: 'already_delivered' }
  /** Still waiting, delayed (between retries) or being sent: it needs no replay. */
  | { outcome: 'pending'; state: string };

/**
 * Sends a dead webhook (one that failed for good) again with its original id, body and a fresh
 * retry schedule — what the api's admin route and Bull Board's "retry" do.
 */
export async function replayWebhook(queue: WebhookQueue, webhookId: string): Promise<ReplayResult> {
  if (!JOB_ID.test(webhookId))
    throw new Error(`invalid webhook id ${JSON.stringify(webhookId)}: expected ${JOB_ID}`);
  const job = await queue.getJob(webhookId);
  if (!job) return { outcome: 'not_found' };
  const state = await job.getState();
  if (state === 'completed') return { outcome: 'already_delivered' };
  if (state !== 'failed') return { outcome: 'pending', state };
  await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  return { outcome: 'requeued' };
}
