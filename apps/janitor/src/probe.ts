import { execFile } from 'node:child_process';

export interface ProbedVideo {
  duration_seconds: number;
  codec: string;
  width: number | null;
  height: number | null;
  has_audio: boolean;
}

export interface ProbeOptions {
  ffprobePath: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** ffprobe could not be run or did not answer in time: says nothing about the file. */
export class ProbeUnavailableError extends Error {
  constructor(file: string, cause: Error) {
    super(`could not probe ${file}: ${cause.message}`, { cause });
    this.name = 'ProbeUnavailableError';
  }
}

interface FfprobeOutput {
  format?: { duration?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    duration?: string;
  }[];
}

/**
 * What the video file holds, or null when ffprobe reads it and finds no playable video (so the file
 * may be removed). Throws ProbeUnavailableError when ffprobe itself fails to run (missing binary,
 * timeout, abort): a broken tool must never make good files look unreadable.
 */
export function probeVideo(file: string, options: ProbeOptions): Promise<ProbedVideo | null> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file];
  return new Promise((resolve, reject) => {
    execFile(
      options.ffprobePath,
      args,
      { timeout: options.timeoutMs, signal: options.signal, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout) => {
        if (err) {
          // A numeric exit code is ffprobe's verdict on the file; anything else is about ffprobe.
          const ranAndRejected = typeof err.code === 'number' && !err.killed;
          if (ranAndRejected) resolve(null);
          else reject(new ProbeUnavailableError(file, err));
          return;
        }
        resolve(describe(stdout));
      },
    );
  });
}

function describe(stdout: string): ProbedVideo | null {
  let output: FfprobeOutput;
  try {
    output = JSON.parse(stdout) as FfprobeOutput;
  } catch {
    return null;
  }
  const streams = output.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && s.codec_name);
  if (!video) return null;
  const duration = Number(output.format?.duration ?? video.duration ?? 0);
  return {
    duration_seconds: Number.isFinite(duration) && duration > 0 ? duration : 0,
    codec: video.codec_name!,
    width: video.width && video.width > 0 ? video.width : null,
    height: video.height && video.height > 0 ? video.height : null,
    has_audio: streams.some((s) => s.codec_type === 'audio'),
  };
}
