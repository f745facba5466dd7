import type { VideoCodec } from './annexb';

/**
 * Pure builders of ffmpeg / ffprobe argument lists. Paths are passed as `file:` URLs so a name that
 * starts with "-" or contains ":" is never read as an option or a protocol.
 */

export type FfmpegLogLevel = 'quiet' | 'error' | 'warning' | 'info';

export interface RecordingArgsOptions {
  /** The MP4 file to write. */
  output: string;
  codec: VideoCodec;
  /** AAC in ADTS frames arrives on a second pipe (fd 3) and is muxed in. */
  audio?: boolean;
  /**
   * What stdin carries: `annexb` (default), raw access units stamped by ffmpeg as it reads them;
   * `mpegts`, access units with their own timestamps (MpegTsMuxer), for video written faster than
   * real time (a pre-motion buffer). Video only.
   */
  input?: 'annexb' | 'mpegts';
  /**
   * Longest fragment in seconds (fragments also start at every keyframe). It bounds both how far the
   * growing file lags behind the stream and what a killed ffmpeg loses. Default 1.
   */
  fragmentSeconds?: number;
  /** Replace an existing file. Default false: ffmpeg refuses, so a resumed recording cannot erase one. */
  overwrite?: boolean;
  logLevel?: FfmpegLogLevel;
}

/** Largest packet ffmpeg's raw H.264/H.265 demuxer makes of what it reads (its default is 1024). */
const RAW_VIDEO_PACKET_BYTES = 65_536;

/** fd of the second input pipe (the audio); stdin is fd 0. */
export const AUDIO_PIPE_FD = 3;

/**
 * Options of a live, untimed input pipe:
 * - wall-clock timestamps: Annex-B and ADTS carry no usable time, and a recording's length must be
 *   real time, gaps included (a paused stream gives one long frame, not a jump cut);
 * - probe almost nothing, so ffmpeg writes the file header on the first keyframe instead of
 *   buffering seconds of stream first (the gate guarantees that keyframe carries its parameter sets);
 * - `demuxerOptions` of the input's format: raw video is demuxed in packets of up to 64 KiB (the
 *   default is 1 KiB, so about 17 packets per frame of a 2 Mb/s 15 fps stream, each allocated,
 *   stamped and handed to the parser); a packet is what one read returned, so each frame is still
 *   stamped when it is read;
 * - with `queued`, a deep input queue, so each input keeps being read, and stamped, on arrival while
 *   the muxer waits for the other one. A sole input goes without: ffmpeg (5.x) then reads it in its
 *   main thread, blocked in read() until a frame arrives, where an input thread makes the main
 *   thread poll for packets every 10 ms — 100 wake-ups a second per recording, which cost more than
 *   the stream copy itself.
 */
function liveInput(format: string, url: string, queued: boolean, demuxerOptions: string[] = []): string[] {
  return [
    ...demuxerOptions,
    '-use_wallclock_as_timestamps',
    '1',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    ...(queued ? ['-thread_queue_size', '1024'] : []),
    '-f',
    format,
    '-i',
    url,
  ];
}

/**
 * MPEG-TS on stdin whose timestamps are kept (they are the frames' arrival on the wall clock), read
 * with little probing: the program table names the codec, and the first keyframe carries its
 * parameter sets.
 */
function timedInput(): string[] {
  return ['-probesize', '32', '-analyzeduration', '0', '-f', 'mpegts', '-i', 'pipe:0'];
}

/**
 * Annex-B H.264/H.265 on stdin (+ ADTS AAC on fd 3) → fragmented MP4, stream copy, no re-encode.
 * `empty_moov` + fragments make the file playable while it grows and after ffmpeg is killed (all
 * complete fragments stay readable); `default_base_moof` is what browsers' MSE expect; each fragment
 * is flushed to disk when written. HEVC is tagged `hvc1`, the tag Safari and other browsers that can
 * play HEVC require. Streams with B-frames are not supported (wall-clock time is decode order);
 * camera streams have none.
 */
export function recordingArgs(options: RecordingArgsOptions): string[] {
  const fragmentMicros = Math.round((options.fragmentSeconds ?? 1) * 1_000_000);
  if (!(fragmentMicros > 0))
    throw new Error(`fragmentSeconds must be positive, got ${options.fragmentSeconds}`);
  const args = ['-hide_banner', '-nostats', '-loglevel', options.logLevel ?? 'warning'];
  const audio = options.audio === true;
  if (options.input === 'mpegts') {
    if (audio) throw new Error('an mpegts input carries video only');
    args.push(...timedInput());
  } else
    args.push(
      ...liveInput(options.codec === 'h264' ? 'h264' : 'hevc', 'pipe:0', audio, [
        '-raw_packet_size',
        String(RAW_VIDEO_PACKET_BYTES),
      ]),
    );
  if (audio) args.push(...liveInput('aac', `pipe:${AUDIO_PIPE_FD}`, audio));
  args.push('-map', '0:v:0');
  if (options.audio) args.push('-map', '1:a:0');
  args.push('-c', 'copy');
  if (options.codec === 'h265') args.push('-tag:v', 'hvc1');
  // MP4 stores AAC without ADTS headers.
  if (options.audio) args.push('-bsf:a', 'aac_adtstoasc');
  args.push(
    '-video_track_timescale',
    '90000',
    '-movflags',
    '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration',
    String(fragmentMicros),
    '-flush_packets',
    '1',
    '-f',
    'mp4',
    options.overwrite ? '-y' : '-n',
    fileUrl(options.output),
  );
  return args;
}

export interface ThumbnailArgsOptions {
  input: string;
  /** Where the JPEG goes (overwritten). */
  output: string;
  /** Position of the frame, seconds from the start. Default 1. */
  atSeconds?: number;
  /** Scale to this width, keeping the aspect ratio; default: the video's own size. */
  width?: number;
}

/** One JPEG frame from `atSeconds` into a video. */
export function thumbnailArgs(options: ThumbnailArgsOptions): string[] {
  const at = options.atSeconds ?? 1;
  if (!(at >= 0)) throw new Error(`atSeconds must be 0 or more, got ${options.atSeconds}`);
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
  args.push('-ss', String(at), '-i', fileUrl(options.input), '-map', '0:v:0', '-frames:v', '1');
  if (options.width !== undefined) {
    if (!Number.isInteger(options.width) || options.width < 2) {
      throw new Error(`width must be an integer of at least 2, got ${options.width}`);
    }
    // -2: the height that keeps the aspect ratio, rounded to an even number (JPEG chroma subsampling).
    args.push('-vf', `scale=${options.width}:-2`);
  }
  args.push('-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', '-update', '1', '-y', fileUrl(options.output));
  return args;
}

/** ffprobe: format and streams as JSON. */
export function probeArgs(file: string): string[] {
  return [
    '-hide_banner',
    '-v',
    'error',
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    fileUrl(file),
  ];
}

export function fileUrl(path: string): string {
  return `file:${path}`;
}
