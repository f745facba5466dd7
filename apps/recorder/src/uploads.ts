import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { QUEUES, uploadRecordingJob, validatedProcessor } from '@eufy-relay/contracts';
import type { ErrorReporter } from '@eufy-relay/errors';
import { jobLogger } from '@eufy-relay/logger';
import type { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import { closeWorker, type RoleScope } from '@eufy-relay/runtime';
import {
  NotInSpoolError,
  StorageHealth,
  UPLOAD_BACKOFF,
  enqueueUpload,
  openUploadQueue,
  spoolUsage,
  uploadBackoff,
  uploadRecording,
  type RecordingObjects,
} from '@eufy-relay/storage';

/** Uploads one recorder runs at once: each holds one 8 MiB part in memory and one S3 connection. */
const UPLOAD_CONCURRENCY = 2;

/** What a recording session needs from object storage: hand a finished recording to the uploads. */
export interface RecorderUploads {
  enqueue(id: string): Promise<void>;
}

/**
 * With STORAGE_BACKEND=s3: a worker on the uploads queue (any recorder takes any upload; one whose
 * spool lacks the file retries later, leaving it to the recorder that has it) and, at start, an
 * upload queued for every finished recording still in this spool: a recorder that died between the
 * finish and the upload (or during it) is resumed by the next one that can read its spool.
 */
export async function startUploads(
  scope: RoleScope,
  deps: {
    config: Config;
    redis: Redis;
    store: RecordingStore;
    files: RecordingFiles;
    objects: RecordingObjects;
    reporter: ErrorReporter;
  },
): Promise<RecorderUploads> {
  const { config, redis, store, files, objects, reporter } = deps;
  const logger = scope.logger;
  const queue = scope.queue(openUploadQueue(config, redis));
  const health = new StorageHealth(redis, config);
  const worker = new Worker(
    QUEUES.uploads,
    validatedProcessor(uploadRecordingJob, async (data, job, signal) => {
      const log = jobLogger(logger, job).child({ recording_id: data.recording_id });
      try {
        return await uploadRecording(
          { config, redis, store, files, objects, health, logger: log },
          data.recording_id,
          signal,
        );
      } catch (err) {
        if (signal?.aborted) throw err;
        if (err instanceof NotInSpoolError) {
          log.debug({ err }, 'upload left to the recorder whose spool holds the recording');
          throw err;
        }
        const message = `${(err as Error).name}: ${(err as Error).message}`;
        await health.failed(message).catch(() => undefined);
        log.warn(
          { err, attempt: job.attemptsMade + 1 },
          'upload failed: the recording stays in the spool and is retried',
        );
        await reporter.report('upload_recording', err, {
          retryCount: job.attemptsMade,
          context: { recording_id: data.recording_id, bucket: objects.bucket },
        });
        throw err;
      }
    }),
    {
      connection: redis,
      prefix: config.REDIS_PREFIX,
      concurrency: UPLOAD_CONCURRENCY,
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === UPLOAD_BACKOFF ? uploadBackoff(config)(attemptsMade) : 0,
      },
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'uploads worker error'));
  // Aborted at once on stop: the multipart journal lets the next attempt resume where this one was.
  scope.shutdown.add('uploads worker', closeWorker(worker, 0));
  await worker.waitUntilReady();

  const uploads: RecorderUploads = { enqueue: (id) => enqueueUpload(queue, id) };
  const spool = await spoolUsage(files);
  let resumed = 0;
  for (const [id, kinds] of spool.ids) {
    if (!kinds.has('video')) continue;
    const recording = await store.get(id);
    // Stored already: the upload only removes the spool copy a crash left behind.
    if (!recording || recording.status === 'recording') continue;
    await uploads.enqueue(id);
    resumed += 1;
  }
  if (resumed > 0) logger.info({ recordings: resumed }, 'finished recordings in the spool queued for upload');
  return uploads;
}
