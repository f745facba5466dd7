import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';
import { DEVICE_SN, REASON_MAX_LENGTH, RECORDING_ID } from '@eufy-relay/contracts';

/**
 * Where a recording is in its life. `missing`: the index still knows it but its video file is gone
 * (the janitor marks it so, and puts it back when the file reappears, e.g. after a remount).
 */
export const RECORDING_STATUSES = ['recording', 'completed', 'failed', 'missing'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

/** The `video_status` of the motion webhooks: `no_video` means the stream never delivered a frame. */
export const VIDEO_STATUSES = ['recording', 'completed', 'failed', 'no_video'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

/** How an entry got into the index: written by a recorder, or rebuilt by the janitor from a file. */
export const RECORDING_SOURCES = ['recorder', 'repair'] as const;

const epochMs = z.number().int().nonnegative();

/**
 * The fields a writer may change after creation, each with the value an absent hash field reads as,
 * so a field can be added here later without migrating the entries already in Redis.
 */
const mutableFields = {
  status: z.enum(RECORDING_STATUSES),
  video_status: z.enum(VIDEO_STATUSES),
  ended_at: epochMs.nullable(),
  /** Wall-clock length in seconds (what motion_stopped reports). */
  duration_seconds: z.number().nonnegative().nullable(),
  /** Size of the video file as last reported by its writer (0 once the file is known to be gone). */
  bytes: z.number().int().nonnegative(),
  /** ffprobe codec name of the video stream: h264, hevc. */
  codec: z.string().min(1).max(32).nullable(),
  width: z.number().int().positive().nullable(),
  height: z.number().int().positive().nullable(),
  has_audio: z.boolean().nullable(),
  /** Why the recording ended: motion_timeout, max_duration, stream_failed, shutdown, … */
  stop_reason: z.string().min(1).max(200).nullable(),
  /** With video_status failed / no_video: what went wrong, in words (the webhook's `reason`). */
  failure_reason: z.string().min(1).max(REASON_MAX_LENGTH).nullable(),
  /** How many times the livestream was restarted into this file. */
  restarts: z.number().int().nonnegative(),
  /**
   * Seconds inside the recording without video: while no recorder ran it (a takeover after a crash)
   * or a segment was being replaced. The file keeps them on its timeline (the last frame stays).
   */
  gap_seconds: z.number().nonnegative(),
  /** The station (HomeBase) whose single P2P stream slot this camera needs. */
  station_sn: z.string().regex(DEVICE_SN).nullable(),
  /** Set while the recording waits for its station's stream slot; cleared when video starts. */
  waiting_for_slot_since: epochMs.nullable(),
  /** The recording that held the station's slot when this one had to wait (kept afterwards: the why). */
  slot_blocked_by: z.string().regex(RECORDING_ID).nullable(),
  /** When the first frame reached the file (later than started_at if it waited for the slot). */
  video_started_at: epochMs.nullable(),
  /** When the janitor found the video file gone. */
  missing_since: epochMs.nullable(),
  /**
   * With STORAGE_BACKEND=s3: when the video's object was found complete in the bucket (size and
   * checksum checked). Until then the recording's only copy is in a recorder's spool.
   */
  stored_at: epochMs.nullable(),
  /** Where the video comes from now: `rtsp` (ffmpeg pulls the camera) or `p2p` (the eufy livestream). */
  video_source: z.enum(['rtsp', 'p2p']).nullable(),
  /** Why that source, in words: RTSP chosen, or why not (none, configured p2p, RTSP failed and the recording fell back). */
  video_source_reason: z.string().min(1).max(1000).nullable(),
  /** Seconds of video before the motion the file starts with (the pre-motion buffer); null: none. */
  preroll_seconds: z.number().nonnegative().nullable(),
};

/** One recording as the index holds it. `video_file` and `thumbnail_file` are derived from the id. */
export const recordingSchema = z.object({
  id: z.string().regex(RECORDING_ID),
  device_sn: z.string().regex(DEVICE_SN),
  video_file: z.string(),
  thumbnail_file: z.string(),
  started_at: epochMs,
  source: z.enum(RECORDING_SOURCES),
  created_at: epochMs,
  updated_at: epochMs,
  ...mutableFields,
});
export type Recording = z.output<typeof recordingSchema>;

/** A change to an existing recording; `null` clears a field. Unknown keys are rejected. */
export const recordingPatchSchema = z.strictObject(mutableFields).partial();
export type RecordingPatch = z.input<typeof recordingPatchSchema>;

/** What a writer gives to create a recording; the id follows from device_sn and started_at. */
export const newRecordingSchema = z.strictObject({
  ...recordingPatchSchema.shape,
  device_sn: z.string().regex(DEVICE_SN),
  started_at: epochMs,
  source: z.enum(RECORDING_SOURCES).default('recorder'),
  status: mutableFields.status.default('recording'),
  video_status: mutableFields.video_status.default('recording'),
});
export type NewRecording = z.input<typeof newRecordingSchema>;

/**
 * How each hash field is written as a Redis string, and what an absent field reads as. Absent
 * means "never set" (older entries, or a field cleared with null).
 */
type FieldKind = 'string' | 'int' | 'number' | 'bool';
const FIELD_KINDS: Record<string, FieldKind> = {
  device_sn: 'string',
  started_at: 'int',
  source: 'string',
  created_at: 'int',
  updated_at: 'int',
  status: 'string',
  video_status: 'string',
  ended_at: 'int',
  duration_seconds: 'number',
  bytes: 'int',
  codec: 'string',
  width: 'int',
  height: 'int',
  has_audio: 'bool',
  stop_reason: 'string',
  failure_reason: 'string',
  restarts: 'int',
  gap_seconds: 'number',
  station_sn: 'string',
  waiting_for_slot_since: 'int',
  slot_blocked_by: 'string',
  video_started_at: 'int',
  missing_since: 'int',
  stored_at: 'int',
  video_source: 'string',
  video_source_reason: 'string',
  preroll_seconds: 'number',
};
const ABSENT_VALUES: Record<string, unknown> = { bytes: 0, restarts: 0, gap_seconds: 0, source: 'recorder' };

export function videoFileName(id: string): string {
  return `${id}.mp4`;
}

export function thumbnailFileName(id: string): string {
  return `${id}.jpg`;
}

/** The index entry could not be read back as a recording: someone wrote it by hand or a bug did. */
export class CorruptRecordingError extends Error {
  constructor(
    readonly id: string,
    problems: string[],
  ) {
    super(`recording ${id} in the index is unreadable: ${problems.join('; ')}`);
    this.name = 'CorruptRecordingError';
  }
}

/** Hash fields (all strings) → a Recording. Fields this version does not know are ignored. */
export function decodeRecording(id: string, hash: Record<string, string>): Recording {
  const raw: Record<string, unknown> = {
    id,
    video_file: videoFileName(id),
    thumbnail_file: thumbnailFileName(id),
  };
  for (const [field, kind] of Object.entries(FIELD_KINDS)) {
    const text = hash[field];
    if (text === undefined) raw[field] = ABSENT_VALUES[field] ?? null;
    else raw[field] = kind === 'string' ? text : kind === 'bool' ? text === '1' : Number(text);
  }
  const result = recordingSchema.safeParse(raw);
  if (!result.success) {
    throw new CorruptRecordingError(id, zodIssueLines(result.error));
  }
  return result.data;
}

/**
 * A set of field values → what the store writes: `set` as field/value string pairs, `clear` the
 * fields that become null (an absent field reads as its default).
 */
export function encodeFields(values: Record<string, unknown>): { set: string[]; clear: string[] } {
  const set: string[] = [];
  const clear: string[] = [];
  for (const [field, value] of Object.entries(values)) {
    if (!(field in FIELD_KINDS)) throw new Error(`unknown recording field ${field}`);
    if (value === undefined) continue;
    if (value === null) clear.push(field);
    else set.push(field, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return { set, clear };
}
