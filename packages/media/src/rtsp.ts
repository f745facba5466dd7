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
    // only delay the file's first frame (ffmpeg writes it once probing is done).
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-i',
    options.url,
    '-map',
    '0:v:0',
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
