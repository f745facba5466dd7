import { z } from 'zod';
import { DEVICE_SN, QUEUES, recordingUrl } from '@eufy-relay/contracts';
import {
  InvalidRecordingInputError,
  RECORDING_STATUSES,
  VIDEO_STATUSES,
  type Recording,
  type RecordingRef,
} from '@eufy-relay/recordings';
import { uploadCounts } from '@eufy-relay/storage';
import type { ApiContext } from './context';
import { HttpError } from '@eufy-relay/playback';
import { recordingIdOf, recordingIdParam } from './media';
import { ApiRoutes, named, problem } from './routes';
import { readDisk } from './status';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export const recordingView = named(
  'Recording',
  z.object({
    id: z.string(),
    device_sn: z.string(),
    status: z.enum(RECORDING_STATUSES),
    video_status: z.enum(VIDEO_STATUSES),
    started_at: z.iso.datetime(),
    ended_at: z.iso.datetime().nullable(),
    duration_seconds: z
      .number()
      .nullable()
      .describe('wall-clock length; while recording, the time since it started'),
    bytes: z.number().int().describe('video size; while recording, the size of the file right now'),
    url: z.string().describe('the video (signed when URL_SIGNING_SECRET is set)'),
    thumbnail_url: z.string(),
    codec: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    has_audio: z.boolean().nullable(),
    stop_reason: z.string().nullable(),
    failure_reason: z.string().nullable(),
    restarts: z.number().int(),
  }),
);
export type RecordingView = z.infer<typeof recordingView>;

export async function toRecordingView(
  ctx: ApiContext,
  r: Recording,
  now: number,
  baseUrl = ctx.config.PUBLIC_BASE_URL,
): Promise<RecordingView> {
  const live = r.status === 'recording';
  const bytes = live ? ((await ctx.files.size(r.id, 'video')) ?? 0) : r.bytes;
  const link = (ext: 'mp4' | 'jpg') => recordingUrl(baseUrl, r.id, { ext, signing: ctx.signing, now });
  return {
    id: r.id,
    device_sn: r.device_sn,
    status: r.status,
    video_status: r.video_status,
    started_at: iso(r.started_at),
    ended_at: isoOrNull(r.ended_at),
    duration_seconds: live ? Math.max(0, Math.round((now - r.started_at) / 1000)) : r.duration_seconds,
    bytes,
    url: link('mp4'),
    thumbnail_url: link('jpg'),
    codec: r.codec,
    width: r.width,
    height: r.height,
    has_audio: r.has_audio,
    stop_reason: r.stop_reason,
    failure_reason: r.failure_reason,
    restarts: r.restarts,
  };
}

const statusList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()))
  .pipe(z.array(z.enum(RECORDING_STATUSES)).min(1))
  .describe(`one or more of ${RECORDING_STATUSES.join(', ')}, comma-separated`);

const listQuery = z
  .strictObject({
    camera: z.string().regex(DEVICE_SN).optional().describe('device serial'),
    status: statusList.optional(),
    from: z.iso.datetime({ offset: true }).optional().describe('started at or after (ISO 8601)'),
    to: z.iso.datetime({ offset: true }).optional().describe('started before (ISO 8601)'),
    order: z.enum(['desc', 'asc']).default('desc').describe('by start time; newest first by default'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(100).optional().describe('next_cursor of the previous page'),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), {
    message: 'from must be before to',
    path: ['from'],
  });

export const recordingListBody = named(
  'RecordingList',
  z.object({ items: z.array(recordingView), next_cursor: z.string().nullable() }),
);

const refView = z.object({ id: z.string(), started_at: z.iso.datetime() }).nullable();
const toRefView = (ref: RecordingRef | null) =>
  ref ? { id: ref.id, started_at: iso(ref.started_at) } : null;

export const storageBody = named(
  'Storage',
  z.object({
    disk: z.object({
      path: z.string(),
      total_bytes: z.number(),
      used_bytes: z.number(),
      free_bytes: z.number(),
      min_free_bytes: z.number().describe('MIN_FREE_DISK_BYTES: below it the janitor deletes oldest first'),
    }),
    recordings: z.object({
      count: z.number().int(),
      bytes: z.number().int(),
      by_status: z.record(z.enum(RECORDING_STATUSES), z.number().int()),
      oldest: refView,
      newest: refView,
    }),
    cameras: z.array(
      z.object({
        device_sn: z.string(),
        name: z.string().nullable(),
        count: z.number().int(),
        bytes: z.number().int(),
        oldest: refView,
        newest: refView,
      }),
    ),
    backend: z.object({
      kind: z.enum(['local', 's3']).describe('STORAGE_BACKEND'),
      bucket: z.string().nullable().describe('with s3: bucket and key prefix, s3://{bucket}/{prefix}'),
      uploads: z
        .object({
          pending: z
            .number()
            .int()
            .describe('finished recordings in a spool waiting for (or in) their upload'),
          failing: z.number().int().describe('of those, waiting for a retry after a failed attempt'),
          failed: z.number().int().describe('uploads given up (the recording stays in its spool)'),
        })
        .describe('with s3: the uploads queue; zeros with local'),
      spool: z
        .string()
        .describe('with s3: "disk" is this api host\'s RECORDINGS_DIR; recorders spool on their own disks'),
    }),
    retention: z.object({
      days: z.number(),
      /** Recordings that started before this are due for deletion at the next cleanup. */
      expires_before: z.iso.datetime(),
      cleanup_interval_seconds: z.number(),
    }),
  }),
);

export function recordingRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  routes.json(
    {
      method: 'get',
      path: '/recordings',
      tag: 'recordings',
      access: 'token',
      summary: 'Recordings, newest first, filtered by camera, status and start time',
      query: listQuery,
      responses: {
        200: { description: 'one page; pass next_cursor as cursor for the next', schema: recordingListBody },
        400: problem('invalid filter or cursor'),
      },
    },
    async ({ query }) => {
      const now = Date.now();
      let page;
      try {
        page = await ctx.store.list({
          device_sn: query.camera,
          status: query.status,
          from: query.from ? Date.parse(query.from) : undefined,
          to: query.to ? Date.parse(query.to) : undefined,
          order: query.order,
          limit: query.limit,
          cursor: query.cursor,
        });
      } catch (err) {
        if (err instanceof InvalidRecordingInputError) {
          throw new HttpError(400, 'invalid_query', 'invalid query', { details: err.problems });
        }
        throw err;
      }
      return {
        items: await Promise.all(page.items.map((r) => toRecordingView(ctx, r, now))),
        next_cursor: page.next_cursor,
      };
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/recordings/:id',
      tag: 'recordings',
      access: 'token',
      summary: 'One recording',
      params: recordingIdParam,
      responses: {
        200: { description: 'the recording', schema: recordingView },
        400: problem('not a recording id'),
        404: problem('no such recording'),
      },
    },
    async (_input, req) => {
      const id = recordingIdOf(req);
      const recording = await ctx.store.get(id);
      if (!recording) throw new HttpError(404, 'recording_not_found', `no recording ${id}`);
      return toRecordingView(ctx, recording, Date.now());
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/storage',
      tag: 'recordings',
      access: 'token',
      summary: 'Disk use, recordings per camera, oldest and newest, retention',
      responses: { 200: { description: 'storage figures', schema: storageBody } },
    },
    async () => {
      const [disk, stats, devices, uploads] = await Promise.all([
        readDisk(ctx.config.RECORDINGS_DIR),
        ctx.store.stats(),
        ctx.devices.listDevices(),
        uploadCounts(ctx.queues[QUEUES.uploads]),
      ]);
      if (!disk.ok) throw new Error(`cannot read the recordings disk: ${disk.error}`);
      const names = new Map(devices.map((d) => [d.serial, d.name]));
      const retentionMs = ctx.config.RETENTION_DAYS * 24 * 3600 * 1000;
      return {
        disk: {
          path: disk.value.path,
          total_bytes: disk.value.total_bytes,
          used_bytes: disk.value.used_bytes,
          free_bytes: disk.value.free_bytes,
          min_free_bytes: ctx.config.MIN_FREE_DISK_BYTES,
        },
        recordings: {
          count: stats.count,
          bytes: stats.bytes,
          by_status: stats.by_status,
          oldest: toRefView(stats.oldest),
          newest: toRefView(stats.newest),
        },
        cameras: stats.cameras.map((c) => ({
          device_sn: c.device_sn,
          name: names.get(c.device_sn) ?? null,
          count: c.count,
          bytes: c.bytes,
          oldest: toRefView(c.oldest),
          newest: toRefView(c.newest),
        })),
        backend: {
          kind: ctx.config.STORAGE_BACKEND,
          bucket: ctx.objects ? `s3://${ctx.objects.objects.bucket}/${ctx.objects.objects.prefix}` : null,
          uploads,
          spool: ctx.config.RECORDINGS_DIR,
        },
        retention: {
          days: ctx.config.RETENTION_DAYS,
          expires_before: iso(Date.now() - retentionMs),
          cleanup_interval_seconds: ctx.config.CLEANUP_INTERVAL_SECONDS,
        },
      };
    },
  );
}
