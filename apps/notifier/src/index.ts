import { Worker } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import { QUEUES, deliverWebhookJob, validatedProcessor } from '@eufy-relay/contracts';
import { ErrorReporter } from '@eufy-relay/errors';
import { closeWorker, redisReady, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import {
  DeliveryLog,
  ReceiverRateWindow,
  WEBHOOK_BACKOFF,
  openWebhookQueue,
  webhookRetryDelayMs,
} from '@eufy-relay/webhooks';
import { WebhookSender } from '@eufy-relay/webhooks/sender';
import { MAX_CONCURRENCY, deliveryStarts, webhookDelivery } from './delivery';

export { DELIVER_OPERATION, deliveryStarts } from './delivery';

export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRole('notifier', config, deps, async (scope) => {
    const { logger, shutdown } = scope;
    const producerRedis = scope.redis('producer');
    const workerRedis = scope.redis('worker', 'notifier-worker');
    const webhooks = scope.queue(openWebhookQueue(config, producerRedis));
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

    const { deliver, reportDead } = webhookDelivery({
      config,
      logger,
      sender,
      deliveryLog: new DeliveryLog(producerRedis, config),
      receiverWindow: new ReceiverRateWindow(producerRedis, config),
      webhooks,
      reporter,
    });

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
