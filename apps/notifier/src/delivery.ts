import { RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import type { deliverWebhookJob, JobData } from '@eufy-relay/contracts';
import type { ErrorReporter } from '@eufy-relay/errors';
import { jobLogger, type Logger } from '@eufy-relay/logger';
import type { DeliveryAttempt, DeliveryLog, ReceiverRateWindow, WebhookQueue } from '@eufy-relay/webhooks';
import { attemptVerdict, type AttemptResult, type WebhookSender } from '@eufy-relay/webhooks/sender';

/** The operation name of delivery failures in system_error webhooks and the recent-errors list. */
export const DELIVER_OPERATION = 'deliver_webhook';

/** A Retry-After beyond a day is taken as a broken header, not as a request to stop for longer. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** Most webhooks one notifier process sends at the same time (each waits up to WEBHOOK_TIMEOUT_MS). */
export const MAX_CONCURRENCY = 100;

/** Starts are paced in slices of this length: a tenth of a second. */
const START_SLICE_MS = 100;

/**
 * BullMQ's limiter (global across processes): how many deliveries may start per window. Windows of a
 * tenth of a second (`rate / 10` starts each, at least one) spread starts over the second instead of
 * a burst at its start; a window per delivery would cost BullMQ's limiter a round of Redis calls per
 * job, which at 100/s is several milliseconds of a 10 ms spacing. Whole milliseconds, rounded up:
 * never faster. The promise to the receiver (never more than `rate` in any second it sees) is
 * ReceiverRateWindow's.
 */
export function deliveryStarts(ratePerSecond: number): { max: number; duration: number } {
  const max = Math.max(1, Math.floor((ratePerSecond * START_SLICE_MS) / 1000));
  return { max, duration: Math.ceil((max * 1000) / ratePerSecond) };
}

/** A failed attempt worth retrying (5xx, 408, timeout, connection error). */
class WebhookAttemptError extends Error {
  override readonly name = 'WebhookAttemptFailed';
  constructor(
    message: string,
    readonly statusCode: number | null,
  ) {
    super(message);
  }
}

/** The receiver refused the webhook (4xx other than 408/429, or a redirect): retrying cannot help. */
class WebhookRejectedError extends UnrecoverableError {
  override readonly name: string = 'WebhookRejected';
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/** 410 Gone: the receiver says the endpoint no longer exists. */
class WebhookReceiverGoneError extends WebhookRejectedError {
  override readonly name = 'WebhookReceiverGone';
}

/** The report of a webhook that used up its retry schedule; `cause` is its last attempt's error. */
class WebhookDeliveryFailedError extends Error {
  override readonly name = 'WebhookDeliveryFailed';
}

type DeliverData = JobData<typeof deliverWebhookJob>;

/** What delivering a webhook needs; the notifier's start() builds it. */
export interface DeliveryDeps {
  config: Pick<Config, 'WEBHOOK_RETRY_SCHEDULE_SECONDS'>;
  logger: Logger;
  /** Absent without WORKATO_WEBHOOK_URL: webhooks are then logged and kept, not sent. */
  sender: WebhookSender | undefined;
  deliveryLog: DeliveryLog;
  receiverWindow: ReceiverRateWindow;
  /** The webhooks queue: a 429 holds it back for every notifier. */
  webhooks: WebhookQueue;
  reporter: ErrorReporter;
}

/**
 * One delivery attempt of a webhook job (`deliver`, the worker's processor) and the one report of a
 * webhook that failed for good (`reportDead`, on the worker's final `failed`).
 */
export function webhookDelivery(deps: DeliveryDeps): {
  deliver: (
    data: DeliverData,
    job: Job,
    signal?: AbortSignal,
  ) => Promise<{ outcome: string; status_code?: number | null }>;
  reportDead: (job: Job, err: Error) => Promise<void>;
} {
  const { logger, sender, deliveryLog, receiverWindow, webhooks, reporter } = deps;
  const schedule = deps.config.WEBHOOK_RETRY_SCHEDULE_SECONDS;

  /** A 429 waits as long as Retry-After says; without one, as long as the first scheduled retry. */
  const rateLimitWaitMs = (result: AttemptResult) => {
    const asked = result.outcome === 'response' ? result.retryAfterMs : undefined;
    return Math.min(Math.max(asked ?? schedule[0]! * 1000, 1), MAX_RETRY_AFTER_MS);
  };

  const record = async (log: Logger, webhookId: string, attempt: DeliveryAttempt) => {
    try {
      await deliveryLog.record(webhookId, attempt);
    } catch (err) {
      // The delivery itself stands: failing it now would send the webhook twice.
      log.error({ err, attempt }, 'could not write the delivery log');
    }
  };

  const deliver = async (data: DeliverData, job: Job, signal?: AbortSignal) => {
    const log = jobLogger(logger, job).child({ webhook_id: data.webhook_id, event: data.payload.event });
    const attempt = {
      attempt: job.attemptsMade + 1,
      at: new Date().toISOString(),
      event: data.payload.event,
    };
    if (!sender) {
      await record(log, data.webhook_id, {
        ...attempt,
        outcome: 'skipped',
        status_code: null,
        latency_ms: null,
        error: null,
      });
      log.info({ payload: data.payload }, 'WORKATO_WEBHOOK_URL is not set: webhook logged, not sent');
      return { outcome: 'skipped' };
    }

    const result = await receiverWindow.run(() => sender.send(data.webhook_id, data.payload, signal), signal);
    const verdict = attemptVerdict(result);
    const statusCode = result.outcome === 'response' ? result.statusCode : null;
    const error = result.error ?? null;
    // Hold the queue back first: every moment before this, another delivery may start.
    const waitMs = verdict === 'rate_limited' ? rateLimitWaitMs(result) : 0;
    if (waitMs) await webhooks.rateLimit(waitMs);
    await record(log, data.webhook_id, {
      ...attempt,
      outcome: verdict === 'delivered' ? 'delivered' : verdict === 'rate_limited' ? 'rate_limited' : 'failed',
      status_code: statusCode,
      latency_ms: result.latencyMs,
      error,
    });
    const attemptFields = {
      attempt: attempt.attempt,
      status_code: statusCode,
      latency_ms: result.latencyMs,
    };
    switch (verdict) {
      case 'delivered':
        log.info(attemptFields, 'webhook delivered');
        return { outcome: 'delivered', status_code: statusCode };
      case 'rate_limited': {
        log.warn(
          { ...attemptFields, wait_ms: waitMs },
          'receiver asked to slow down (429): holding back every delivery',
        );
        throw new RateLimitError();
      }
      case 'gone':
        throw new WebhookReceiverGoneError(
          `the webhook receiver is gone (HTTP 410 Gone at WORKATO_WEBHOOK_URL): webhook ${data.webhook_id} ` +
            `(${data.payload.event}) was dropped; fix WORKATO_WEBHOOK_URL, then replay the dead webhooks`,
          statusCode!,
        );
      case 'rejected':
        throw new WebhookRejectedError(
          `the webhook receiver rejected webhook ${data.webhook_id} (${data.payload.event}): ${error}`,
          statusCode!,
        );
      case 'retry':
        log.warn({ ...attemptFields, error }, 'webhook attempt failed');
        throw new WebhookAttemptError(error ?? 'attempt failed', statusCode);
    }
  };

  /** A webhook that failed for good (schedule used up, rejected, gone, invalid): exactly one report. */
  const reportDead = async (job: Job, err: Error) => {
    const data = job.data as Partial<DeliverData> | undefined;
    const event = data?.payload?.event;
    const context = {
      webhook_id: job.id,
      event,
      attempts: job.attemptsMade,
      status_code: (err as { statusCode?: number }).statusCode ?? null,
    };
    if (event === 'system_error') {
      // Reporting it would queue another system_error to the same failing receiver: a loop.
      logger.error({ err, ...context }, 'a system_error webhook could not be delivered (not reported again)');
      return;
    }
    const reported =
      err instanceof UnrecoverableError
        ? err
        : new WebhookDeliveryFailedError(
            `webhook ${job.id} (${event}) was not delivered after ${job.attemptsMade} attempts: ${err.message}`,
            { cause: err },
          );
    await reporter.report(DELIVER_OPERATION, reported, {
      retryCount: Math.max(job.attemptsMade - 1, 0),
      context,
    });
  };
  return { deliver, reportDead };
}
