import { RateLimitError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import { QUEUES, deliverWebhookJob, validatedProcessor, type JobData } from '@eufy-relay/contracts';
import { ErrorReporter } from '@eufy-relay/errors';
import { jobLogger, type Logger } from '@eufy-relay/logger';
import { closeWorker, redisReady, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import {
  DeliveryLog,
  ReceiverRateWindow,
  WEBHOOK_BACKOFF,
  openWebhookQueue,
  webhookRetryDelayMs,
  type DeliveryAttempt,
} from '@eufy-relay/webhooks';
import { WebhookSender, attemptVerdict, type AttemptResult } from '@eufy-relay/webhooks/sender';

/** The operation name of delivery failures in system_error webhooks and the recent-errors list. */
export const DELIVER_OPERATION = 'deliver_webhook';

/** A Retry-After beyond a day is taken as a broken header, not as a request to stop for longer. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** Most webhooks one notifier process sends at the same time (each waits up to WEBHOOK_TIMEOUT_MS). */
const MAX_CONCURRENCY = 100;

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

export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRole('notifier', config, deps, async (scope) => {
    const { logger, shutdown } = scope;
    const producerRedis = scope.redis('producer');
    const workerRedis = scope.redis('worker', 'notifier-worker');
    const webhooks = scope.queue(openWebhookQueue(config, producerRedis));
    const deliveryLog = new DeliveryLog(producerRedis, config);
    const receiverWindow = new ReceiverRateWindow(producerRedis, config);
    const reporter = new ErrorReporter({ config, redis: producerRedis, webhooks, logger });

    const schedule = config.WEBHOOK_RETRY_SCHEDULE_SECONDS;
    const concurrency = Math.min(config.WEBHOOK_RATE_LIMIT_PER_SECOND, MAX_CONCURRENCY);
    const sender = config.WORKATO_WEBHOOK_URL
      ? new WebhookSender({
          url: config.WORKATO_WEBHOOK_URL,
          secret: config.WEBHOOK_SECRET,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          connections: concurrency,
        })
      : undefined;
    if (sender) shutdown.add('http connections', () => sender.close());

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

      const result = await receiverWindow.run(
        () => sender.send(data.webhook_id, data.payload, signal),
        signal,
      );
      const verdict = attemptVerdict(result);
      const statusCode = result.outcome === 'response' ? result.statusCode : null;
      const error = result.error ?? null;
      // Hold the queue back first: every moment before this, another delivery may start.
      const waitMs = verdict === 'rate_limited' ? rateLimitWaitMs(result) : 0;
      if (waitMs) await webhooks.rateLimit(waitMs);
      await record(log, data.webhook_id, {
        ...attempt,
        outcome:
          verdict === 'delivered' ? 'delivered' : verdict === 'rate_limited' ? 'rate_limited' : 'failed',
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

    const worker = new Worker(QUEUES.webhooks, validatedProcessor(deliverWebhookJob, deliver), {
      connection: workerRedis,
      prefix: config.REDIS_PREFIX,
      concurrency,
      limiter: deliveryStarts(config.WEBHOOK_RATE_LIMIT_PER_SECOND),
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === WEBHOOK_BACKOFF ? webhookRetryDelayMs(schedule, attemptsMade) : -1,
      },
    });
    worker.on('error', (err) => logger.error({ err }, 'webhooks worker error'));

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
        logger.error(
          { err, ...context },
          'a system_error webhook could not be delivered (not reported again)',
        );
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
    const pendingReports = new Set<Promise<void>>();
    worker.on('failed', (job, err) => {
      // BullMQ sets finishedOn only when the job is moved to failed for good, not when it is retried.
      if (!job?.finishedOn) return;
      const report = reportDead(job, err).finally(() => pendingReports.delete(report));
      pendingReports.add(report);
    });
    shutdown.add('error reports', () => Promise.all(pendingReports));
    // Last added, first closed: running deliveries get half the shutdown bound, then are aborted.
    shutdown.add('webhooks worker', closeWorker(worker, scope.shutdownMs / 2));

    await Promise.all([redisReady(producerRedis), worker.waitUntilReady()]);
    logger.info(
      {
        receiver: config.WORKATO_WEBHOOK_URL ? new URL(config.WORKATO_WEBHOOK_URL).origin : null,
        signed: config.WEBHOOK_SECRET !== undefined,
        rate_per_second: config.WEBHOOK_RATE_LIMIT_PER_SECOND,
        starts: deliveryStarts(config.WEBHOOK_RATE_LIMIT_PER_SECOND),
        retry_schedule_seconds: schedule,
      },
      sender
        ? 'delivering webhooks'
        : 'WORKATO_WEBHOOK_URL is not set: webhooks are logged and kept, not sent',
    );
    return scope.running();
  });
}
