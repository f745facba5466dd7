import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Worker, type Queue } from 'bullmq';
import type { Config } from '@eufy-relay/config';
import { QUEUES, cleanupJob, openQueue, validatedProcessor } from '@eufy-relay/contracts';
import { ErrorReporter } from '@eufy-relay/errors';
import { History, runChain } from '@eufy-relay/history';
import { jobLogger } from '@eufy-relay/logger';
import { probeVideo } from '@eufy-relay/media';
import { RecordingFiles, RecordingStore, diskUsage, type DiskUsage } from '@eufy-relay/recordings';
import { openStorage } from '@eufy-relay/storage';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { closeWorker, redisReady, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import { runCleanup } from './cleanup';
import { addStorageSample } from './storage-history';
import { sharedSystemErrorReporter, type SystemErrorReporter } from './report';
import type { CleanupResult } from './result';
import {
  CLEANUP_HISTORY_LENGTH,
  CLEANUP_JOB_OPTIONS,
  CLEANUP_SCHEDULER_ID,
  cleanupHistoryKey,
} from './schedule';

export { cleanupResultSchema, type CleanupResult } from './result';
export { requestCleanup, CleanupTimeoutError, CleanupFailedError } from './request';
export { sharedSystemErrorReporter, type SystemErrorReporter, type SystemProblem } from './report';
export * from './schedule';
export { STORAGE_HISTORY, addStorageSample, readStorageSamples, type StorageSample } from './storage-history';
export type { DiskUsage } from '@eufy-relay/recordings';

export interface JanitorDeps extends RoleDeps {
  /** Free space source; tests pass one that models a small disk over the real files. */
  diskUsage?: (dir: string) => Promise<DiskUsage>;
  /** Where system errors go; defaults to system_error webhooks on the webhooks queue. */
  reporter?: SystemErrorReporter;
  /** Defaults to FFPROBE_PATH, else `ffprobe` on PATH (as `@eufy-relay/media` runs it). */
  ffprobePath?: string;
}

/**
 * The janitor role: a BullMQ worker on the `janitor` queue, fed by one job scheduler every
 * CLEANUP_INTERVAL_SECONDS and by POST /cleanup. The queue's global concurrency is 1, so however
 * many janitors run, one cleanup runs at a time and each scheduled job is processed once.
 */
export function start(config: Config, deps: JanitorDeps = {}): Promise<RunningRole> {
  return startRole('janitor', config, deps, async (scope) => {
    const { logger, shutdown } = scope;
    const instance = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const prefix = config.REDIS_PREFIX;
    const redis = scope.redis('worker');
    await redis.ping();
    await mkdir(config.RECORDINGS_DIR, { recursive: true });

    const janitorQueue = scope.queue(openQueue(cleanupJob, { connection: redis, prefix }));
    const producer = scope.redis('producer', 'janitor-producer');
    await redisReady(producer);
    const webhooks = scope.queue(openWebhookQueue(config, producer));

    const reporter =
      deps.reporter ??
      sharedSystemErrorReporter(new ErrorReporter({ config, redis: producer, webhooks, logger }));
    // A bucket the janitor cannot list or delete in stops it here with one line.
    const storage = await openStorage(config, ['read', 'delete']);
    if (storage.backend === 's3') shutdown.add('S3 client', storage.close);
    const files = new RecordingFiles(config.RECORDINGS_DIR);
    const store = new RecordingStore(redis, config);
    const measureDisk = deps.diskUsage ?? diskUsage;
    const historyKey = cleanupHistoryKey(config);
    const storageHistory = new History(redis, config);

    const processor = validatedProcessor(cleanupJob, async (data, job, signal): Promise<CleanupResult> => {
      const log = jobLogger(logger, job);
      const jobId = job.id ?? 'unknown';
      try {
        const result = await runCleanup(
          {
            store,
            files,
            ...(storage.backend === 's3' ? { bucket: storage.objects } : {}),
            reporter,
            logger: log,
            diskUsage: () => measureDisk(files.dir),
            probe: (file, probeSignal) =>
              probeVideo(file, {
                path: deps.ffprobePath,
                timeoutMs: config.FFPROBE_TIMEOUT_SECONDS * 1000,
                signal: probeSignal,
              }),
            settings: {
              retentionMs: config.RETENTION_DAYS * 86_400_000,
              retentionMsByCamera: new Map(
                Object.entries(config.cameras)
                  .filter(([, own]) => own.retention_days !== undefined)
                  .map(([sn, own]) => [sn, own.retention_days! * 86_400_000]),
              ),
              minFreeBytes: config.MIN_FREE_DISK_BYTES,
              orphanGraceMs: config.ORPHAN_GRACE_SECONDS * 1000,
            },
          },
          { jobId, instance, trigger: data.trigger, signal },
        );
        const chain = redis
          .multi()
          .lpush(historyKey, JSON.stringify(result))
          .ltrim(historyKey, 0, CLEANUP_HISTORY_LENGTH - 1);
        // The dashboard's storage over time: what each run leaves.
        const after = result.disk.after;
        addStorageSample(storageHistory, chain, {
          at: Date.now(),
          recordings_bytes: (await store.stats()).bytes,
          disk_used_bytes: after.used,
          disk_free_bytes: after.free,
          disk_total_bytes: after.total,
        });
        await runChain(chain);
        return result;
      } catch (err) {
        log.error({ err }, 'cleanup run failed');
        await reporter
          .report({
            id: `janitor-cleanup-failed-${jobId}`,
            operation: 'cleanup',
            error_type: (err as Error).name,
            error_message: (err as Error).message,
            context: { job_id: jobId, trigger: data.trigger, instance },
            traceback: (err as Error).stack ?? null,
          })
          .catch((reportErr: unknown) => log.error({ err: reportErr }, 'could not report the failed run'));
        throw err;
      }
    });

    const workerRedis = scope.redis('worker', 'janitor-worker');
    const worker = new Worker(QUEUES.janitor, processor, {
      connection: workerRedis,
      prefix,
      name: instance,
      concurrency: 1,
    });
    worker.on('error', (err) => logger.error({ err }, 'janitor worker error'));
    // Half the shutdown bound for a running cleanup to finish; then it is aborted between steps.
    shutdown.add('janitor worker', closeWorker(worker, scope.shutdownMs / 2));

    await janitorQueue.setGlobalConcurrency(1);
    // BullMQ types the scheduler id as a job name; the scheduler's jobs are cleanup jobs (below).
    await (janitorQueue as Queue).upsertJobScheduler(
      CLEANUP_SCHEDULER_ID,
      { every: Math.max(1, Math.round(config.CLEANUP_INTERVAL_SECONDS * 1000)) },
      {
        name: cleanupJob.name,
        data: cleanupJob.schema.parse({ trigger: 'scheduled' }),
        opts: CLEANUP_JOB_OPTIONS,
      },
    );
    logger.info(
      { instance, everySeconds: config.CLEANUP_INTERVAL_SECONDS, dir: files.dir },
      'janitor scheduled cleanup',
    );
    return scope.running();
  });
}
