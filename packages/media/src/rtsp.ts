import type { VideoCodec } from './annexb';
import { fileUrl, type FfmpegLogLevel } from './args';

export interface RtspRecordingArgsOptions {
  /** rtsp:// or rtsps:// URL, credentials included. */
  url: string;
  /** The MP4 file to write. */
  output: string;
  /** No connection, or no data, for this long ends ffmpeg (its socket timeout). */
  timeoutSeconds: number;
  logLevel?: FfmpegLogLevel;
}

/**
 * ffmpeg pulls a camera's RTSP stream into a fragmented MP4, stream copy: TCP interleaved transport
 * (UDP through NAT and Docker loses packets), a socket timeout so a refused, silent or stalled
 * camera ends ffmpeg instead of hanging it, almost no probing, and the RTP timestamps kept (the camera's clock is the
 * video's timeline). Fragments as in recordingArgs, so the file plays while it grows.
 */
export function rtspRecordingArgs(options: RtspRecordingArgsOptions): string[] {
  return [
    ...rtspInput(options),
    '-map',
    '0:a:0?',
    '-c',
    'copy',
    '-video_track_timescale',
    '90000',
    '-movflags',
    '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration',
    '1000000',
    '-flush_packets',
    '1',
    '-f',
    'mp4',
    '-n',
    fileUrl(options.output),
  ];
}

export interface RtspPullArgsOptions extends Omit<RtspRecordingArgsOptions, 'output'> {
  codec: VideoCodec;
}

/**
 * ffmpeg pulls a camera's RTSP stream and writes its video to stdout as Annex-B, stream copy, each
 * packet as it comes (the pre-motion buffer parses it into access units and stamps them). Parameter
 * sets go in front of every keyframe (dump_extra: a camera may send them only in the SDP).
 */
export function rtspPullArgs(options: RtspPullArgsOptions): string[] {
  return [
    ...rtspInput(options),
    '-c',
    'copy',
    '-bsf:v',
    'dump_extra=freq=keyframe',
    '-flush_packets',
    '1',
    '-f',
    options.codec === 'h264' ? 'h264' : 'hevc',
    'pipe:1',
  ];
}

/** The RTSP input and its first video stream, as both uses above read it. */
function rtspInput(options: Omit<RtspRecordingArgsOptions, 'output'>): string[] {
  const timeoutMicros = Math.round(options.timeoutSeconds * 1_000_000);
  if (!(timeoutMicros > 0)) throw new Error(`timeoutSeconds must be positive, got ${options.timeoutSeconds}`);
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    options.logLevel ?? 'warning',
    '-rtsp_transport',
    'tcp',
    '-timeout',
    String(timeoutMicros),
    // The SDP already names the codec and its parameter sets: probing the stream for seconds would
    // only delay the first frame (ffmpeg writes nothing until probing is done).
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-i',
    options.url,
    '-map',
    '0:v:0',
  ];
}
