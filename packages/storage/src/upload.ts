import { stat } from 'node:fs/promises';
import { Queue, UnrecoverableError, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { JOB_STATES, addJob, openQueue, uploadRecordingJob, type JobQueue } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { Fmp4Indexer, type Fmp4Layout } from '@eufy-relay/media/fmp4';
import {
  RecordingStatusConflictError,
  type RecordingFileKind,
  type RecordingFiles,
  type RecordingStore,
} from '@eufy-relay/recordings';
import { redisKey } from '@eufy-relay/runtime';
import type { RecordingObjects, UploadJournal, UploadProgress } from './objects';

/** The custom backoff of the uploads queue: doubling from RETRY_BASE_DELAY_MS up to UPLOAD_RETRY_MAX_DELAY_SECONDS. */
export const UPLOAD_BACKOFF = 'upload';
/** An upload is retried until it is stored (the spool keeps the file): effectively without end. */
const UPLOAD_ATTEMPTS = 1_000_000;

export function uploadJobOptions(): JobsOptions {
  return {
    attempts: UPLOAD_ATTEMPTS,
    backoff: { type: UPLOAD_BACKOFF },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** Delay before retry `attemptsMade` (1 = the first retry), with ±20 % jitter so recorders spread out. */
export function uploadBackoff(
  config: Pick<Config, 'RETRY_BASE_DELAY_MS' | 'UPLOAD_RETRY_MAX_DELAY_SECONDS'>,
): (attemptsMade: number) => number {
  return (attemptsMade) => {
    const max = config.UPLOAD_RETRY_MAX_DELAY_SECONDS * 1000;
    const delay = Math.min(
      max,
      config.RETRY_BASE_DELAY_MS * 2 ** Math.min(30, Math.max(0, attemptsMade - 1)),
    );
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  };
}

export type UploadQueue = JobQueue<typeof uploadRecordingJob>;

export function openUploadQueue(config: Pick<Config, 'REDIS_PREFIX'>, redis: Redis): UploadQueue {
  return openQueue(uploadRecordingJob, { connection: redis, prefix: config.REDIS_PREFIX });
}

/** Job id of a recording's upload: one per recording, however often it is queued. */
export const uploadJobId = (id: string) => `upload.${id}`;

export async function enqueueUpload(queue: UploadQueue, id: string): Promise<void> {
  await addJob(
    queue,
    uploadRecordingJob,
    { recording_id: id },
    { ...uploadJobOptions(), jobId: uploadJobId(id) },
  );
}

/**
 * `{prefix}:storage:upload:{id}` (string, JSON UploadProgress): the multipart upload of a recording
 * in progress, so that any recorder's next attempt resumes it rather than paying for it twice.
 */
export function redisJournal(redis: Redis, config: Pick<Config, 'REDIS_PREFIX'>, id: string): UploadJournal {
  const key = redisKey(config, 'storage', 'upload', id);
  return {
    load: async () => {
      const json = await redis.get(key);
      return json ? (JSON.parse(json) as UploadProgress) : null;
    },
    save: async (progress) => {
      // Outlives any retry schedule, and still ends: an upload nobody finishes is not kept for ever.
      await redis.set(key, JSON.stringify(progress), 'EX', 30 * 24 * 3600);
    },
    clear: async () => {
      await redis.del(key);
    },
  };
}

/**
 * `{prefix}:storage:health` (hash): the outcome of the latest upload attempt of any recorder —
 * `ok` 1/0, `since` (ms, start of the current state), `error`, `at`. /health reads it: S3 failing
 * while recordings wait in spools is a problem a person must see, even though nothing is lost.
 */
export class StorageHealth {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    config: Pick<Config, 'REDIS_PREFIX'>,
  ) {
    this.key = redisKey(config, 'storage', 'health');
  }

  async succeeded(now = Date.now()): Promise<void> {
    const ok = await this.redis.hget(this.key, 'ok');
    if (ok === '1') return;
    await this.redis.hset(this.key, 'ok', '1', 'since', String(now), 'at', String(now));
    await this.redis.hdel(this.key, 'error');
  }

  async failed(error: string, now = Date.now()): Promise<void> {
    const ok = await this.redis.hget(this.key, 'ok');
    const since = ok === '0' ? undefined : String(now);
    await this.redis.hset(
      this.key,
      'ok',
      '0',
      'error',
      error.slice(0, 500),
      'at',
      String(now),
      ...(since ? ['since', since] : []),
    );
  }

  async read(): Promise<{ ok: boolean; since: number | null; error: string | null; at: number | null }> {
    const h = await this.redis.hgetall(this.key);
    return {
      ok: h.ok !== '0',
      since: h.since ? Number(h.since) : null,
      error: h.error ?? null,
      at: h.at ? Number(h.at) : null,
    };
  }
}

/**
 * `{prefix}:storage:layout:{id}` (string, JSON Fmp4Layout): where each fragment of a stored video
 * lies, read from the spool copy before it goes, so the api can answer the HLS playlist of a stored
 * recording without reading the object box by box. It expires with the recording's retention.
 */
export class FragmentLayouts {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX' | 'RETENTION_DAYS'>,
  ) {}

  private key(id: string): string {
    return redisKey(this.config, 'storage', 'layout', id);
  }

  async save(id: string, layout: Readonly<Fmp4Layout>): Promise<void> {
    const seconds = Math.ceil(this.config.RETENTION_DAYS * 86_400) + 7 * 86_400;
    await this.redis.set(this.key(id), JSON.stringify({ ...layout, tracks: [] }), 'EX', seconds);
  }

  async load(id: string): Promise<Fmp4Layout | null> {
    const json = await this.redis.get(this.key(id));
    return json ? (JSON.parse(json) as Fmp4Layout) : null;
  }
}

/** The spool of this recorder has no copy of the recording; another recorder's may have. */
export class NotInSpoolError extends Error {
  override readonly name = 'NotInSpoolError';
}

export interface UploadDeps {
  config: Pick<Config, 'REDIS_PREFIX' | 'RETENTION_DAYS'>;
  redis: Redis;
  store: RecordingStore;
  /** This recorder's spool (RECORDINGS_DIR). */
  files: RecordingFiles;
  objects: RecordingObjects;
  health: StorageHealth;
  logger: Logger;
}

export interface UploadSummary {
  recording_id: string;
  outcome: 'stored' | 'already_stored' | 'gone' | 'no_video';
  bytes?: number;
}

/**
 * One attempt at storing a finished recording: thumbnail, then video (multipart, resumed from the
 * journal), each checked in the bucket (size, MD5); only then is the index told (`stored_at`) and
 * only after that are the spool copies removed. Any step may run again after a crash with the same
 * result. A recording deleted meanwhile has its unfinished multipart upload aborted.
 */
export async function uploadRecording(
  deps: UploadDeps,
  id: string,
  signal?: AbortSignal,
): Promise<UploadSummary> {
  const { store, files, objects, logger } = deps;
  const journal = redisJournal(deps.redis, deps.config, id);
  const recording = await store.get(id);
  if (!recording) {
    const progress = await journal.load();
    if (progress) await objects.abort(progress);
    await journal.clear();
    await files.removeRecording(id);
    logger.info({ recording_id: id }, 'recording deleted before its upload: spool copy and upload dropped');
    return { recording_id: id, outcome: 'gone' };
  }
  if (recording.stored_at !== null) {
    await files.removeRecording(id);
    return { recording_id: id, outcome: 'already_stored' };
  }
  if (recording.status === 'recording')
    throw new UnrecoverableError(
      `recording ${id} is still being recorded: only finished recordings are uploaded`,
    );
  if (recording.video_status === 'no_video') return { recording_id: id, outcome: 'no_video' };

  const videoFile = files.videoPath(id);
  if (!(await isFile(videoFile))) {
    // A previous attempt may have stored it and died before the index heard of it.
    const stored = await objects.head(objects.key(id, 'video'), signal);
    if (stored && recording.bytes > 0 && stored.bytes === recording.bytes)
      return markStored(deps, id, stored.bytes);
    throw new NotInSpoolError(
      `${id}.mp4 is not in this recorder's spool (${files.dir}); waiting for the recorder that has it`,
    );
  }
  const thumbnail = files.thumbnailPath(id);
  if (await isFile(thumbnail))
    await objects.uploadFile(thumbnail, objects.key(id, 'thumbnail'), 'thumbnail', noJournal, signal);
  const video = await objects.uploadFile(videoFile, objects.key(id, 'video'), 'video', journal, signal);
  await new FragmentLayouts(deps.redis, deps.config).save(id, await new Fmp4Indexer(videoFile).refresh());
  return markStored(deps, id, video.bytes);
}

async function markStored(deps: UploadDeps, id: string, bytes: number): Promise<UploadSummary> {
  try {
    await deps.store.update(
      id,
      { stored_at: Date.now(), bytes },
      { expectStatus: ['completed', 'failed', 'missing'] },
    );
  } catch (err) {
    if (!(err instanceof RecordingStatusConflictError)) throw err;
  }
  await deps.files.removeRecording(id);
  await deps.health.succeeded();
  deps.logger.info({ recording_id: id, bytes }, 'recording stored in the bucket; spool copy removed');
  return { recording_id: id, outcome: 'stored', bytes };
}

const noJournal: UploadJournal = { load: async () => null, save: async () => {}, clear: async () => {} };

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** What the upload queue holds: for /storage, /metrics and /health. */
export async function uploadCounts(
  queue: Queue,
): Promise<{ pending: number; failing: number; failed: number }> {
  // Every state but completed (a stored recording's job is no longer the upload's business).
  const counts = await queue.getJobCounts(...JOB_STATES.filter((state) => state !== 'completed'));
  // A delayed upload job is one waiting for its next retry: it failed at least once.
  return {
    pending: (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0),
    failing: counts.delayed ?? 0,
    failed: counts.failed ?? 0,
  };
}

/** The spool's copies by kind, for /storage and the recorder's resume at start. */
export async function spoolUsage(
  files: RecordingFiles,
): Promise<{ files: number; bytes: number; ids: Map<string, Set<RecordingFileKind>> }> {
  const ids = new Map<string, Set<RecordingFileKind>>();
  let count = 0;
  let bytes = 0;
  for await (const entry of files.entries()) {
    count += 1;
    bytes += entry.bytes;
    if (entry.file.kind === 'video' || entry.file.kind === 'thumbnail') {
      const kinds = ids.get(entry.file.id) ?? new Set();
      kinds.add(entry.file.kind);
      ids.set(entry.file.id, kinds);
    }
  }
  return { files: count, bytes, ids };
}
