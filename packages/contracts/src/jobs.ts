import {
  Queue,
  UnrecoverableError,
  type Job,
  type JobState as BullJobState,
  type JobsOptions,
  type QueueOptions,
} from 'bullmq';
import { z } from 'zod';
import { MOTION_KINDS, zodIssueLines } from '@eufy-relay/config';
import { DEVICE_SN, RECORDING_ID } from './recording';
import { webhookPayload } from './webhooks';

/**
 * Queue names are a persisted contract (BullMQ keys embed them): never rename one without a migration.
 */
export const QUEUES = {
  /** ingest → recorder: motion signals per camera. */
  motion: 'motion',
  /** anyone → notifier: one job per webhook to deliver. */
  webhooks: 'webhooks',
  /** janitor's scheduler and POST /cleanup → janitor. */
  janitor: 'janitor',
  /** ingest → ingest: delayed checks behind debounced alerts (camera_offline), durable across restarts. */
  alerts: 'alerts',
  /**
   * recorder → recorder: one long-running job per recording (job id = recording id) that owns its
   * livestream and ffmpeg; BullMQ's stalled-job recovery hands it to another recorder if its own dies.
   */
  recordingSessions: 'recording-sessions',
  /**
   * recorder → any recorder: with STORAGE_BACKEND=s3, one job per finished recording (job id
   * `upload.{id}`) that moves it from the spool into the bucket; retried until it is stored.
   */
  uploads: 'uploads',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** BullMQ 6 job states (a paused queue keeps its jobs in `waiting`): what queue counts are read by. */
export const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const satisfies readonly BullJobState[];
export type JobState = (typeof JOB_STATES)[number];

/** A job is a name plus a schema on a queue; producers and consumers import the same definition. */
export interface JobDefinition<
  S extends z.ZodType = z.ZodType,
  Q extends QueueName = QueueName,
  N extends string = string,
> {
  queue: Q;
  name: N;
  schema: S;
}

export type JobData<D extends JobDefinition> = z.output<D['schema']>;

export function defineJob<S extends z.ZodType, const Q extends QueueName, const N extends string>(
  queue: Q,
  name: N,
  schema: S,
): JobDefinition<S, Q, N> {
  return { queue, name, schema };
}

/**
 * The queue of one job definition, typed by it (data, result, job name): a handle for the webhooks
 * queue cannot be passed where the motion queue is expected, and `add` takes only that job's data.
 */
export type JobQueue<D extends JobDefinition, Result = unknown> = Queue<JobData<D>, Result, D['name']>;

/** Opens the queue a job definition belongs on. */
export function openQueue<D extends JobDefinition>(definition: D, options: QueueOptions): JobQueue<D> {
  return new Queue<JobData<D>, unknown, D['name']>(definition.queue, options);
}

/** BullMQ custom job ids must not contain ":" (it separates key parts). */
export const JOB_ID = /^[A-Za-z0-9_.@-]{1,200}$/;
const isoDateTime = z.iso.datetime({ offset: false });

export const motionSignalJob = defineJob(
  QUEUES.motion,
  'motion-signal',
  z.strictObject({
    device_sn: z.string().regex(DEVICE_SN),
    kind: z.enum(MOTION_KINDS),
    /** true: detection on (start or extend a recording); false: the camera cleared the flag. */
    state: z.boolean(),
    /** When ingest saw the event (ISO-8601 UTC, milliseconds). */
    at: isoDateTime,
    /** The eufy-security-ws event name it came from, for the logs. */
    source_event: z.string().min(1),
  }),
);

export const deliverWebhookJob = defineJob(
  QUEUES.webhooks,
  'deliver-webhook',
  z.strictObject({
    /** Sent as `webhook-id` and `X-Workato-Dedup`; the same for every retry and replay of this event. */
    webhook_id: z.string().regex(JOB_ID),
    payload: webhookPayload,
    created_at: isoDateTime,
  }),
);

/**
 * Runs OFFLINE_DEBOUNCE_SECONDS after a camera went offline: if that outage is still open and not yet
 * alerted, camera_offline is sent. Job id `offline.{device_sn}.{outage start, epoch ms}` (one per outage).
 */
export const offlineCheckJob = defineJob(
  QUEUES.alerts,
  'offline-check',
  z.strictObject({
    device_sn: z.string().regex(DEVICE_SN),
    /** When the outage began (ISO-8601 UTC, milliseconds): identifies the outage. */
    outage_started_at: isoDateTime,
  }),
);

/**
 * One recording's session: start (or continue, after a takeover) the camera's livestream into the
 * recording's file until the motion rules stop it, then finish the recording. Everything else it
 * needs (start, last motion, segments) is in Redis, so any recorder can pick it up.
 */
export const recordingSessionJob = defineJob(
  QUEUES.recordingSessions,
  'recording-session',
  z.strictObject({
    recording_id: z.string().regex(RECORDING_ID),
    device_sn: z.string().regex(DEVICE_SN),
  }),
);

/** Upload a finished recording's video and thumbnail from the spool that holds them into the bucket. */
export const uploadRecordingJob = defineJob(
  QUEUES.uploads,
  'upload-recording',
  z.strictObject({
    recording_id: z.string().regex(RECORDING_ID),
  }),
);

export const cleanupJob = defineJob(
  QUEUES.janitor,
  'cleanup',
  z.strictObject({
    /** `disk_full`: a recorder's write failed with ENOSPC, so disk pressure must run now. */
    trigger: z.enum(['scheduled', 'manual', 'disk_full']),
  }),
);

/** A job payload that does not match its contract: it is rejected where it enters and never retried. */
export class InvalidJobPayloadError extends Error {
  constructor(
    readonly job: string,
    readonly problems: string[],
  ) {
    super(`invalid ${job} payload: ${problems.join('; ')}`);
    this.name = 'InvalidJobPayloadError';
  }
}

export function parseJobData<D extends JobDefinition>(definition: D, data: unknown): JobData<D> {
  const result = definition.schema.safeParse(data);
  if (result.success) return result.data as JobData<D>;
  throw new InvalidJobPayloadError(`${definition.queue}/${definition.name}`, zodIssueLines(result.error));
}

/** Validates, then adds; an invalid payload throws before anything reaches Redis. */
export async function addJob<D extends JobDefinition>(
  queue: JobQueue<D>,
  definition: D,
  data: z.input<D['schema']>,
  options?: JobsOptions,
): Promise<Job> {
  if (queue.name !== definition.queue) {
    throw new Error(`job ${definition.name} belongs on queue ${definition.queue}, not ${queue.name}`);
  }
  if (options?.jobId !== undefined && !JOB_ID.test(options.jobId)) {
    throw new Error(`job id ${JSON.stringify(options.jobId)} must match ${JOB_ID}`);
  }
  // Typed by the definition at the call; BullMQ's generic name type cannot follow it in here.
  return (queue as Queue).add(definition.name, parseJobData(definition, data), options);
}

/**
 * Wraps a BullMQ processor: a job whose name or payload does not match its contract fails at once
 * (UnrecoverableError: no retries) with a clear reason, and the worker carries on with the next job.
 */
export function validatedProcessor<D extends JobDefinition, R>(
  definition: D,
  handle: (data: JobData<D>, job: Job, signal?: AbortSignal) => Promise<R>,
): (job: Job, token?: string, signal?: AbortSignal) => Promise<R> {
  return async (job, _token, signal) => {
    if (job.name !== definition.name) {
      throw new UnrecoverableError(
        `unexpected job name ${JSON.stringify(job.name)} on queue ${definition.queue}`,
      );
    }
    let data: JobData<D>;
    try {
      data = parseJobData(definition, job.data);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    return handle(data, job, signal);
  };
}

/** Every job definition: each queue carries exactly one kind of job. */
export const JOB_DEFINITIONS = [
  motionSignalJob,
  deliverWebhookJob,
  offlineCheckJob,
  recordingSessionJob,
  cleanupJob,
  uploadRecordingJob,
] as const;

/** The job definition that belongs on queue `Q`. */
export type JobOnQueue<Q extends QueueName> = Extract<(typeof JOB_DEFINITIONS)[number], { queue: Q }>;

/** One typed handle per queue, as a process that opens them all (the api) holds them. */
export type QueueHandles = { [Q in QueueName]: JobQueue<JobOnQueue<Q>> };
