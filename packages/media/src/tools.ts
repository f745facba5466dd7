import { rename, rm, stat } from 'node:fs/promises';
import { probeArgs, recordingArgs, thumbnailArgs, type RecordingArgsOptions } from './args';
import { FfmpegProcess, type FfmpegProcessOptions, type PipeInput } from './process';
import { LineTail, MediaToolError, spawnTool, toolPath, type MediaTool } from './spawn';

export interface RunToolOptions {
  /** Default FFMPEG_PATH / FFPROBE_PATH, else the tool's name on PATH. */
  path?: string;
  signal?: AbortSignal;
  /** The tool is killed after this long. Default 30 000. */
  timeoutMs?: number;
  /** Written to the tool's stdin (then closed), e.g. a list read with `-i pipe:0`; default none. */
  stdin?: string;
}

/** Runs ffmpeg or ffprobe to completion; resolves its stdout, rejects with its last stderr lines. */
export async function runTool(
  tool: MediaTool,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<string> {
  options.signal?.throwIfAborted();
  const stdinMode = options.stdin === undefined ? 'ignore' : 'pipe';
  const child = await spawnTool(tool, options.path ?? toolPath(tool), args, [stdinMode, 'pipe', 'pipe']);
  // A tool that exits before reading all of it closes the pipe: its exit code says why, not EPIPE.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(options.stdin);
  const stdout: Buffer[] = [];
  const stderr = new LineTail(10);
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const timeoutMs = options.timeoutMs ?? 30_000;
  let ended: string | undefined;
  const kill = (why: string) => {
    ended ??= why;
    child.kill('SIGKILL');
  };
  const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs);
  const onAbort = () => kill('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  if (ended) throw MediaToolError.ran(`${tool} ${ended}`, stderr.get());
  if (code !== 0) {
    throw MediaToolError.ran(
      `${tool} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`,
      stderr.get(),
      signal === null,
    );
  }
  return Buffer.concat(stdout).toString();
}

export interface MediaInfo {
  durationSeconds: number;
  /** ffprobe's codec name of the first video stream ("h264", "hevc"), null without video. */
  videoCodec: string | null;
  /** Its sample-entry tag ("avc1", "hvc1"). */
  videoCodecTag: string | null;
  width: number | null;
  height: number | null;
  hasAudio: boolean;
  audioCodec: string | null;
  sizeBytes: number;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  duration?: string;
}

/** What a media file holds, via ffprobe. Works on a fragmented MP4 that is still being written. */
export async function probe(file: string, options: RunToolOptions = {}): Promise<MediaInfo> {
  const size = await readableSize(file);
  let output: string;
  try {
    output = await runTool('ffprobe', probeArgs(file), options);
  } catch (err) {
    throw MediaToolError.during(`cannot read ${file} as media`, err);
  }
  let parsed: { format?: { duration?: string }; streams?: ProbeStream[] };
  try {
    parsed = JSON.parse(output) as typeof parsed;
  } catch {
    throw new MediaToolError(`cannot read ${file} as media: ffprobe printed no JSON`, [], true);
  }
  const streams = parsed.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  const durations = [parsed.format?.duration, ...streams.map((s) => s.duration)]
    .map((d) => Number(d))
    .filter((d) => Number.isFinite(d));
  return {
    durationSeconds: durations.length > 0 ? Math.max(...durations) : 0,
    videoCodec: video?.codec_name ?? null,
    videoCodecTag: video?.codec_tag_string ?? null,
    width: video?.width ?? null,
    height: video?.height ?? null,
    hasAudio: audio !== undefined,
    audioCodec: audio?.codec_name ?? null,
    sizeBytes: size,
  };
}

async function readableSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new MediaToolError(`cannot read ${file}: not a file`, [], true);
    return info.size;
  } catch (err) {
    if (err instanceof MediaToolError) throw err;
    throw new MediaToolError(`cannot read ${file}: ${(err as Error).message}`, [], true);
  }
}

/** ffprobe could not be run or did not answer in time: says nothing about the file. */
export class ProbeUnavailableError extends Error {
  constructor(file: string, cause: Error) {
    super(`could not probe ${file}: ${cause.message}`, { cause });
    this.name = 'ProbeUnavailableError';
  }
}

/**
 * What a video file holds, or null when ffprobe reads it and finds no playable video (so the file
 * may be removed). Throws ProbeUnavailableError when ffprobe itself fails to run (missing binary,
 * timeout, abort): a broken tool must never make good files look unreadable.
 */
export async function probeVideo(file: string, options: RunToolOptions = {}): Promise<MediaInfo | null> {
  let info: MediaInfo;
  try {
    info = await probe(file, options);
  } catch (err) {
    if (err instanceof MediaToolError && err.fileRejected) return null;
    throw new ProbeUnavailableError(file, err as Error);
  }
  return info.videoCodec ? info : null;
}

export interface ThumbnailOptions extends RunToolOptions {
  /** Seconds into the video. Default 1; a shorter video gives its first frame. */
  atSeconds?: number;
  /** Scale to this width (aspect kept). Default: the video's size. */
  width?: number;
}

/**
 * Writes a JPEG of one frame of `video` to `jpgPath`, atomically (a reader never sees half a file).
 * Works on a recording that is still being written.
 */
export async function extractThumbnail(
  video: string,
  jpgPath: string,
  options: ThumbnailOptions = {},
): Promise<void> {
  await readableSize(video);
  const partial = `${jpgPath}.partial`;
  const at = options.atSeconds ?? 1;
  try {
    // Seeking past the end produces no frame (and no error); a short video falls back to its start.
    for (const atSeconds of at > 0 ? [at, 0] : [0]) {
      await runTool(
        'ffmpeg',
        thumbnailArgs({ input: video, output: partial, atSeconds, width: options.width }),
        options,
      );
      if (await nonEmpty(partial)) {
        await rename(partial, jpgPath);
        return;
      }
    }
  } catch (err) {
    throw MediaToolError.during(`cannot make a thumbnail of ${video}`, err);
  } finally {
    await rm(partial, { force: true });
  }
  throw new MediaToolError(`cannot make a thumbnail of ${video}: it has no video frame`);
}

async function nonEmpty(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

export type RecordingOptions = RecordingArgsOptions & Omit<FfmpegProcessOptions, 'args' | 'inputPipes'>;

/** A running recording: where to write video access units and (with `audio`) ADTS frames. */
export interface RecordingProcess {
  ffmpeg: FfmpegProcess;
  video: PipeInput;
  audio: PipeInput | undefined;
}

/** Starts ffmpeg recording to `output` with the pipes the arguments expect. */
export async function startRecording(options: RecordingOptions): Promise<RecordingProcess> {
  const ffmpeg = await FfmpegProcess.start({
    ...options,
    args: recordingArgs(options),
    inputPipes: options.audio ? 2 : 1,
  });
  const [video, audio] = ffmpeg.inputs;
  return { ffmpeg, video: video!, audio };
}
