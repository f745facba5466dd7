import { mkdir } from 'node:fs/promises';
import { Worker, type JobsOptions } from 'bullmq';
import { requireInProduction, type Config } from '@eufy-relay/config';
import {
  QUEUES,
  cleanupJob,
  motionSignalJob,
  openQueue,
  recordingSessionJob,
  validatedProcessor,
} from '@eufy-relay/contracts';
import { DeviceRegistry } from '@eufy-relay/devices';
import { ErrorReporter } from '@eufy-relay/errors';
import { EufyClient, SchemaIncompatibleError } from '@eufy-relay/eufy-client';
import { jobLogger } from '@eufy-relay/logger';
import { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import { closeWorker, redisReady, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import { SpoolOwners, openStorage } from '@eufy-relay/storage';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { CameraStates, recordingRules } from './camera-state';
import type { RecorderContext } from './context';
import { handleMotion } from './motion';
import { Prebuffers } from './prebuffer';
import { LOCK_LOST, runRecordingSession } from './session';
import { SessionRecords } from './session-records';
import { startSpoolServer } from './spool-server';
import { StationSlots } from './station-slots';
import { sweepOrphans } from './sweep';
import { startUploads } from './uploads';

export { LOCK_LOST } from './session';
export { startSpoolServer, type RunningSpoolServer } from './spool-server';

/** Motion signals are a few Redis round trips each; this many are handled at once per process. */
const MOTION_CONCURRENCY = 16;

/**
 * How often one recording may be taken over after its recorder died (BullMQ's maxStalledCount).
 * Each takeover continues the same recording, which still ends by its own rules (timeout, cap), so
 * there is no reason to give up on it.
 */
const MAX_TAKEOVERS = 1000;

export function recordingSessionJobOptions(
  config: Pick<Config, 'RETRY_ATTEMPTS' | 'RETRY_BASE_DELAY_MS'>,
): JobsOptions {
  return {
    attempts: config.RETRY_ATTEMPTS + 1,
    backoff: { type: 'exponential', delay: config.RETRY_BASE_DELAY_MS },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * The recorder role: a worker on the motion queue applies the recording rules per camera and, for a
 * new recording, sends motion_detected and queues its session; a worker on the recording-sessions
 * queue runs up to RECORDER_CONCURRENCY sessions (livestream → ffmpeg) at once. Sessions survive the
 * death of their recorder (BullMQ hands the job to another within about 1.5 RECORDING_TAKEOVER_SECONDS)
 * and a shutdown (ffmpeg is stopped in order and the job goes back to the queue).
 */
export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRole('recorder', config, deps, async (scope) => {
    const { logger, shutdown } = scope;
    requireInProduction(config, 'recorder', {
      URL_SIGNING_SECRET: 'the video URLs it sends in webhooks must be signed, else the api refuses them',
      ...(config.STORAGE_BACKEND === 's3'
        ? {
            SPOOL_SECRET:
              'its spool endpoint, through which the api plays recordings in progress, must be signed',
          }
        : {}),
    });
    // A worker connection: a Redis blip pauses recordings rather than failing them.
    const redis = scope.redis('worker');
    const subscriber = scope.redis('worker', 'recorder-subscriber');
    const webhooks = scope.queue(openWebhookQueue(config, redis));
    const recordingSessions = scope.queue(
      openQueue(recordingSessionJob, {
        connection: redis,
        prefix: config.REDIS_PREFIX,
        defaultJobOptions: recordingSessionJobOptions(config),
      }),
    );

    const janitor = scope.queue(openQueue(cleanupJob, { connection: redis, prefix: config.REDIS_PREFIX }));
    // Before anything else: a bucket this recorder cannot use stops it with one line.
    const storage = await openStorage(config, ['read', 'write', 'delete']);
    if (storage.backend === 's3') scope.shutdown.add('S3 client', storage.close);
    // With no shared disk the api plays what this spool holds (in progress, awaiting upload) through
    // this endpoint; closed after the sessions (added before them), so a live view ends with its file.
    if (storage.backend === 's3') {
      await mkdir(config.RECORDINGS_DIR, { recursive: true });
      const spool = await startSpoolServer({
        config,
        store: new RecordingStore(redis, config),
        files: new RecordingFiles(config.RECORDINGS_DIR),
        owners: new SpoolOwners(redis, config),
        logger,
      });
      scope.shutdown.add('spool endpoint', () => spool.close());
    }

    const client = new EufyClient({
      url: config.EUFY_WS_URL,
      logger,
      livestreamStartTimeoutMs: config.LIVESTREAM_START_TIMEOUT_SECONDS * 1000,
    });
    shutdown.add('eufy-security-ws connection', () => client.close());

    const takeoverMs = config.RECORDING_TAKEOVER_SECONDS * 1000;
    const ctx: RecorderContext = {
      config,
      logger,
      redis,
      store: new RecordingStore(redis, config),
      files: new RecordingFiles(config.RECORDINGS_DIR),
      registry: new DeviceRegistry(redis, config),
      cameras: new CameraStates(redis, config, recordingRules(config)),
      sessions: new SessionRecords(redis, config),
      slots: new StationSlots(redis, subscriber, config, takeoverMs, logger),
      client,
      webhooks,
      recordingSessions,
      janitor,
      reporter: new ErrorReporter({ config, redis, webhooks, logger }),
    };

    const motionWorker = new Worker(
      QUEUES.motion,
      validatedProcessor(motionSignalJob, (data, job) => handleMotion(ctx, data, jobLogger(logger, job))),
      {
        connection: redis,
        prefix: config.REDIS_PREFIX,
        concurrency: MOTION_CONCURRENCY,
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
    motionWorker.on('error', (err) => logger.error({ err }, 'motion worker error'));

    const sessionWorker = new Worker(
      QUEUES.recordingSessions,
      validatedProcessor(recordingSessionJob, (data, job, signal) =>
        runRecordingSession(
          ctx,
          data,
          job,
          signal,
          jobLogger(logger, job).child({ recording_id: data.recording_id, device_sn: data.device_sn }),
        ),
      ),
      {
        connection: redis,
        prefix: config.REDIS_PREFIX,
        concurrency: config.RECORDER_CONCURRENCY,
        // A dead owner's lock lapses within takeoverMs; the stalled check, every half of it, finds
        // the job on its second look after that: video resumes within about 1.5 × takeoverMs.
        lockDuration: takeoverMs,
        stalledInterval: takeoverMs / 2,
        maxStalledCount: MAX_TAKEOVERS,
      },
    );
    sessionWorker.on('error', (err) => logger.error({ err }, 'recording-sessions worker error'));
    // A lock that could not be renewed (Redis away longer than the lock) may already be another
    // recorder's: stop writing that recording here.
    sessionWorker.on('lockRenewalFailed', (jobIds) => {
      for (const id of jobIds) sessionWorker.cancelJob(id, LOCK_LOST);
    });

    // Stopped after the sessions that may follow them, before the bridge's connection.
    ctx.prebuffers = new Prebuffers(ctx);
    const prebuffers = ctx.prebuffers;
    shutdown.add('pre-motion buffers', () => prebuffers.stop());

    // Closed first (added last): sessions are aborted at once, stop their ffmpeg in order and hand
    // their jobs back; then the motion worker finishes its short jobs.
    shutdown.add('motion worker', closeWorker(motionWorker, scope.shutdownMs / 2));
    shutdown.add('recording sessions', closeWorker(sessionWorker, 0));

    // Recordings whose owner is gone for good are ended here; a takeover period is their grace.
    let sweeping: Promise<unknown> | undefined;
    const sweeper = setInterval(() => {
      sweeping ??= sweepOrphans(ctx, takeoverMs, logger)
        .catch((err: unknown) => logger.warn({ err }, 'could not sweep recordings without owner'))
        .finally(() => (sweeping = undefined));
    }, takeoverMs);
    shutdown.add('orphan sweep', async () => {
      clearInterval(sweeper);
      await sweeping;
    });

    client.on('fatal', (err) => logger.fatal({ err }, 'eufy-security-ws cannot be used: no livestreams'));
    await mkdir(ctx.files.dir, { recursive: true });
    if (storage.backend === 's3')
      ctx.uploads = await startUploads(scope, { ...ctx, objects: storage.objects });
    await Promise.all([redisReady(redis), motionWorker.waitUntilReady(), sessionWorker.waitUntilReady()]);
    // Connecting (and reconnecting) runs in the background: a bridge that is down delays video, not the role.
    client.start().then(
      // Cameras with prebuffer_seconds; with PREBUFFER_SECONDS, every camera the bridge knows.
      () => prebuffers.start([...Object.keys(config.cameras), ...(client.state?.devices.keys() ?? [])]),
      (err: unknown) => {
        if (err instanceof SchemaIncompatibleError) return; // reported by the 'fatal' listener
        logger.debug({ err }, 'eufy-security-ws client stopped before it was ready');
      },
    );
    logger.info(
      {
        recordings_dir: ctx.files.dir,
        storage:
          storage.backend === 's3' ? `s3://${storage.objects.bucket}/${storage.objects.prefix}` : 'local',
        concurrency: config.RECORDER_CONCURRENCY,
        takeover_seconds: config.RECORDING_TAKEOVER_SECONDS,
      },
      'recording on motion',
    );
    return scope.running();
  });
}
