import { spawnSync } from 'node:child_process';

/** What ffprobe found decoding every frame of a file's first video stream. */
export interface DecodedVideo {
  /** ffprobe's exit status (0: it read the file); null when it could not run. */
  status: number | null;
  /** Decoded video frames (0 when there is no video stream). */
  frames: number;
  codec: string | undefined;
  /** The container's duration in seconds (NaN when unknown). */
  duration: number;
  /** ffprobe's complaints (decode errors), trimmed: empty for a file that plays end to end. */
  errors: string;
}

/**
 * ffprobe (`FFPROBE_PATH`, else `ffprobe`) decodes every video frame of `file`. (Decoding through
 * ffmpeg's null muxer instead reports its own rounding of wall-clock timestamps to 1/fps, not a fault
 * of the file.)
 */
export function decodeVideo(file: string): DecodedVideo {
  const run = spawnSync(
    process.env.FFPROBE_PATH ?? 'ffprobe',
    [
      ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=codec_name,nb_read_frames:format=duration', '-of', 'json', file],
    ],
    { encoding: 'utf8' },
  );
  let out: { streams?: { codec_name?: string; nb_read_frames?: string }[]; format?: { duration?: string } } =
    {};
  try {
    out = JSON.parse(run.stdout || '{}') as typeof out;
  } catch {
    // no answer to read: status and errors say why
  }
  const stream = out.streams?.[0];
  return {
    status: run.status,
    frames: Number(stream?.nb_read_frames ?? 0),
    codec: stream?.codec_name,
    duration: Number(out.format?.duration ?? NaN),
    errors: (run.error?.message ?? run.stderr ?? '').trim(),
  };
}

/** Why `file` does not play end to end, or '' when it does (frames, and no decode errors). */
export function decodeErrors(file: string): string {
  const decoded = decodeVideo(file);
  if (decoded.status !== 0) return `exit ${decoded.status}: ${decoded.errors}`;
  return decoded.frames > 0 ? decoded.errors : 'no frames';
}
