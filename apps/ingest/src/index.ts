import { Worker } from 'bullmq';
import { unknownCameras, type Config } from '@eufy-relay/config';
import {
  InvalidJobPayloadError,
  QUEUES,
  motionSignalJob,
  offlineCheckJob,
  openQueue,
  validatedProcessor,
} from '@eufy-relay/contracts';
import { DeviceRegistry, HeartbeatStore } from '@eufy-relay/devices';
import { ErrorReporter } from '@eufy-relay/errors';
import { EufyClient } from '@eufy-relay/eufy-client';
import { closeWorker, redisReady, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { BatteryAlerts } from './battery';
import { BridgeMonitor } from './bridge';
import { Ingest } from './ingest';
import { MotionSignals } from './motion';
import { Outages } from './outages';
import { EventsDroppedError, Outbox, isConnectionLoss } from './outbox';

export { BridgeProblemError } from './bridge';
export { EventsDroppedError } from './outbox';

/**
 * The ingest role: one eufy-security-ws client whose events become recorder jobs, device state,
 * camera_offline / camera_online / low_battery webhooks and system_errors for bridge problems, all
 * written to Redis in order through a bounded buffer that rides out a Redis outage.
 */
export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRole('ingest', config, deps, async (scope) => {
    const { logger, shutdown, shutdownMs: bound } = scope;
    // Producer: fails fast while Redis is away, so events wait in the outbox instead of piling up in ioredis.
    const producer = scope.redis('producer');
    await redisReady(producer);
    const workerRedis = scope.redis('worker', 'ingest-alerts');

    const queueOptions = { connection: producer, prefix: config.REDIS_PREFIX };
    const motionQueue = scope.queue(openQueue(motionSignalJob, queueOptions));
    const alertsQueue = scope.queue(openQueue(offlineCheckJob, queueOptions));
    const webhooks = scope.queue(openWebhookQueue(config, producer));

    const reporter = new ErrorReporter({ config, redis: producer, webhooks, logger });
    const registry = new DeviceRegistry(producer, config);
    const outages = new Outages({ redis: producer, config, alerts: alertsQueue, webhooks, logger });
    const client = new EufyClient({
      url: config.EUFY_WS_URL,
      logger,
      connectTimeoutMs: config.EUFY_WS_TIMEOUT_MS,
      commandTimeoutMs: config.EUFY_WS_TIMEOUT_MS,
      heartbeatIntervalMs: config.EUFY_WS_PING_INTERVAL_MS,
    });

    const outbox = new Outbox({
      redis: producer,
      maxPending: config.INGEST_BUFFER_MAX_EVENTS,
      retries: config.RETRY_ATTEMPTS,
      baseDelayMs: config.RETRY_BASE_DELAY_MS,
      retryIf: (err) => !(err instanceof InvalidJobPayloadError),
      onFailed: async (write, err, retryCount) => {
        await reporter.report('ingest_write', err, { retryCount, context: { write: write.label } });
      },
      onDropped: (count) => {
        const error = new EventsDroppedError(count, config.INGEST_BUFFER_MAX_EVENTS);
        logger.error({ dropped: count }, error.message);
        reportLater('ingest_buffer', error, { dropped: count });
        // Declared below; writes, and so drops, only come from its events.
        ingest.resyncAfterDrop();
      },
      logger,
    });
    /** A system_error in line with the events, so one raised while Redis is away is sent when it is back. */
    const reportLater = (operation: string, error: Error, context: Record<string, unknown>) =>
      outbox.push({
        label: `system_error ${operation}`,
        run: async () => {
          const outcome = await reporter.report(operation, error, { context });
          if (outcome.outcome === 'unrecorded')
            throw new Error(`system_error not recorded: ${outcome.reason}`);
        },
      });

    const worker = new Worker(
      QUEUES.alerts,
      validatedProcessor(offlineCheckJob, (data) =>
        outages.check(data.device_sn, Date.parse(data.outage_started_at)),
      ),
      { connection: workerRedis, prefix: config.REDIS_PREFIX },
    );
    worker.on('error', (err) =>
      // Redis away is the outbox's news (said once); the worker just waits for it.
      isConnectionLoss(err)
        ? logger.debug({ err }, 'alerts worker: Redis unreachable')
        : logger.warn({ err }, 'alerts worker error'),
    );
    worker.on('failed', (job, err) =>
      logger.error({ err, job: job?.id, attempts: job?.attemptsMade }, 'offline check failed'),
    );
    shutdown.add('alerts worker', closeWorker(worker, bound / 4));
    shutdown.add('outbox', () => outbox.close(bound / 2));

    const bridge = new BridgeMonitor({
      config,
      store: new HeartbeatStore(producer, config),
      redis: producer,
      report: reportLater,
      logger,
    });
    bridge.start();
    shutdown.add('heartbeat', () => bridge.stop());

    const ingest = new Ingest({
      client,
      outbox,
      registry,
      motion: new MotionSignals(producer, config, motionQueue, registry),
      outages,
      battery: new BatteryAlerts(producer, config, webhooks, logger),
      bridge,
      logger,
    });
    ingest.attach();
    // A camera may be configured before it is added to the account: a warning, not an error.
    client.once('ready', (state) => {
      const unknown = unknownCameras(config, state.devices.keys());
      if (unknown.length > 0)
        logger.warn(
          { serials: unknown },
          'cameras: settings for serial numbers the bridge does not know (ignored until they appear)',
        );
    });
    shutdown.add('eufy client', () => client.close());
    // Not awaited: the bridge may be down for a while (the client retries on its own, the monitor
    // reports it); an incompatible schema is reported through the client's `fatal` event.
    client.start().catch((err: unknown) => logger.debug({ err }, 'eufy client stopped before it was ready'));
    logger.info({ eufyWsUrl: config.EUFY_WS_URL }, 'ingest started');

    return scope.running();
  });
}
