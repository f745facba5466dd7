import type { Queue } from 'bullmq';
import { addJob, deliverWebhookJob, utcTimestamp } from '@eufy-relay/contracts';

/** A problem the operator must hear about, sent as a `system_error` webhook. */
export interface SystemProblem {
  /** Stable per occurrence (a retried job reports it once): the webhook id. Letters, digits, `-_.@`. */
  id: string;
  operation: string;
  error_type: string;
  error_message: string;
  context: Record<string, unknown>;
  traceback?: string | null;
}

/**
 * How the janitor reports. One method, so the shared error reporter (recent-errors list, folding of
 * repeats) can replace the webhook-only one below without touching the janitor's logic.
 */
export interface SystemErrorReporter {
  report(problem: SystemProblem): Promise<void>;
}

/** Enqueues a `system_error` delivery on the webhooks queue; the notifier sends it. */
export function webhookSystemErrorReporter(webhooks: Queue): SystemErrorReporter {
  return {
    async report(problem) {
      const webhookId = problem.id.replace(/[^A-Za-z0-9_.@-]/g, '-');
      await addJob(
        webhooks,
        deliverWebhookJob,
        {
          webhook_id: webhookId,
          payload: {
            event: 'system_error',
            operation: problem.operation,
            error_type: problem.error_type,
            error_message: problem.error_message,
            retry_count: 0,
            timestamp: utcTimestamp(),
            context: problem.context,
            traceback: problem.traceback ?? null,
          },
          created_at: new Date().toISOString(),
        },
        { jobId: webhookId },
      );
    },
  };
}
