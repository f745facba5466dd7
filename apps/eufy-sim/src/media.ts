import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from '@eufy-relay/logger';
import { encodeBufferJson } from './buffer-json';
import type { VideoProfile } from './scenario';

/** One frame as the simulator sends it: the raw bytes and, memoised, their Buffer-JSON text. */
export class MediaFrame {
  private json: Buffer | undefined;
  constructor(readonly data: Buffer) {}
  /** Encoded once however many streams replay the frame. */
  get bufferJson(): Buffer {
    this.json ??= encodeBufferJson(this.data);
    return this.json;
  }
}

/** Frames produced ahead of sending; `take()` gives the next one, or undefined if none is ready yet. */
export interface FrameSource {
  take(): MediaFrame | undefined;
  close(): void;
}

export const AUDIO_SAMPLE_RATE = 16_000;
/** One AAC frame holds 1024 samples. */
export const AUDIO_FRAME_MS = (1024 / AUDIO_SAMPLE_RATE) * 1000;

export function ffmpegPath(): string {
  return process.env.FFMPEG_PATH ?? 'ffmpeg';
}

/** Fails with a clear message when the system's ffmpeg is missing (apt-get install ffmpeg). */
export function assertFfmpeg(): void {
  const probe = spawnSync(ffmpegPath(), ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(
      `ffmpeg not found or not working at "${ffmpegPath()}" (${probe.error?.message ?? `exit ${probe.status}`}): ` +
        'install it (apt-get install ffmpeg) or set FFMPEG_PATH',
    );
}

let fontFile: string | null | undefined;
/** A TrueType font for the clock overlay, or null (then the pattern's own moving content must do). */
function findFont(): string | null {
  if (fontFile !== undefined) return fontFile;
  const matched = spawnSync('fc-match', ['-f', '%{file}', 'monospace'], { encoding: 'utf8' });
  const candidates = [
    matched.status === 0 ? matched.stdout.trim() : '',
    '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
    '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  ];
  fontFile = candidates.find((f) => f && existsSync(f)) ?? null;
  return fontFile;
}

/**
 * testsrc2 (moving colour pattern) with the wall clock and frame number burnt in when a font exists.
 * Without a font the pattern alone still changes every frame.
 */
function videoFilter(profile: VideoProfile, caption: string): string {
  const source = `testsrc2=size=${profile.width}x${profile.height}:rate=${profile.fps}`;
  const font = findFont();
  if (!font) return source;
  const size = Math.max(12, Math.round(profile.height / 14));
  // Only plain characters in the caption: drawtext's own escaping rules are not worth the risk.
  const safeCaption = caption.replace(/[^A-Za-z0-9 _.-]/g, '');
  const text = `${safeCaption} %{localtime\\:%X} #%{n}`;
  return (
    `${source},drawtext=fontfile=${font}:text='${text}':x=16:y=h-th-16:fontsize=${size}` +
    ':fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6'
  );
}

function videoArgs(profile: VideoProfile, caption: string, seconds?: number): string[] {
  const gop = profile.fps * 2;
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    videoFilter(profile, caption),
    ...(seconds ? ['-t', String(seconds)] : []),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    '-bf',
    '0',
    '-b:v',
    `${profile.bitrateKbps}k`,
    '-maxrate',
    `${profile.bitrateKbps}k`,
    '-bufsize',
    `${profile.bitrateKbps}k`,
    // An access unit delimiter starts every frame (where we split), and SPS/PPS precede every IDR
    // as on a camera, so a reader can join at any keyframe.
    '-x264-params',
    'aud=1:repeat-headers=1',
    '-f',
    'h264',
    'pipe:1',
  ];
}

/**
 * Encodes `seconds` of the test pattern (clock and frame number burnt in) into an MP4 for the RTSP
 * server: the same encoder settings as a livestream, in a container that carries timing.
 */
export async function encodeMp4(
  profile: VideoProfile,
  caption: string,
  seconds: number,
  file: string,
): Promise<void> {
  const args = [
    ...videoArgs(profile, caption, seconds).slice(0, -3),
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
    '-y',
    file,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = runFfmpeg(args);
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr.trim().slice(0, 500)}`)),
    );
  });
}

function audioArgs(seconds?: number): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=${AUDIO_SAMPLE_RATE}`,
    ...(seconds ? ['-t', String(seconds)] : []),
    '-c:a',
    'aac',
    '-b:a',
    '32k',
    '-f',
    'adts',
    'pipe:1',
  ];
}

/**
 * Splits an H.264 Annex-B byte stream with access unit delimiters into frames, each without its
 * delimiter (cameras send none): SPS+PPS+IDR for keyframes, one slice otherwise.
 */
export class AccessUnitSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const starts = this.delimiterStarts();
    const frames: Buffer[] = [];
    for (let i = 0; i + 1 < starts.length; i++) {
      const frame = this.stripDelimiter(this.pending.subarray(starts[i], starts[i + 1]));
      if (frame.length) frames.push(frame);
    }
    if (starts.length) this.pending = this.pending.subarray(starts[starts.length - 1]);
    return frames;
  }

  /** The last access unit (no delimiter follows it at the end of the stream). */
  flush(): Buffer[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    const frame = rest.length ? this.stripDelimiter(rest) : rest;
    return frame.length ? [frame] : [];
  }

  private delimiterStarts(): number[] {
    const starts: number[] = [];
    let from = 0;
    for (;;) {
      const at = this.pending.indexOf(AUD_START, from);
      if (at < 0) return starts;
      starts.push(at > 0 && this.pending[at - 1] === 0 ? at - 1 : at);
      from = at + AUD_START.length;
    }
  }

  private stripDelimiter(unit: Buffer): Buffer {
    const delimiterAt = unit.indexOf(AUD_START);
    const next = unit.indexOf(START_CODE, delimiterAt + AUD_START.length);
    if (next < 0) return Buffer.alloc(0);
    return unit.subarray(next > 0 && unit[next - 1] === 0 ? next - 1 : next);
  }
}
const START_CODE = Buffer.from([0, 0, 1]);
const AUD_START = Buffer.from([0, 0, 1, 0x09]);

/** Splits an ADTS byte stream into AAC frames (header included), by the header's frame length. */
export class AdtsSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    let at = 0;
    while (at + 7 <= this.pending.length) {
      if (this.pending[at] !== 0xff || (this.pending[at + 1]! & 0xf0) !== 0xf0) {
        at++; // resynchronise on the next sync word
        continue;
      }
      const length =
        ((this.pending[at + 3]! & 0x03) << 11) | (this.pending[at + 4]! << 3) | (this.pending[at + 5]! >> 5);
      if (length < 7 || at + length > this.pending.length) break;
      frames.push(this.pending.subarray(at, at + length));
      at += length;
    }
    this.pending = this.pending.subarray(at);
    return frames;
  }

  flush(): Buffer[] {
    this.pending = Buffer.alloc(0);
    return [];
  }
}

type Splitter = { push(chunk: Buffer): Buffer[]; flush(): Buffer[] };

function runFfmpeg(args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Encodes once, to the end, and returns every frame (the loop cache). */
function encodeAll(args: string[], splitter: Splitter): Promise<MediaFrame[]> {
  return new Promise((resolve, reject) => {
    const child = runFfmpeg(args);
    const frames: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => frames.push(...splitter.push(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${stderr.trim().slice(0, 500)}`));
      frames.push(...splitter.flush());
      resolve(frames.map((f) => new MediaFrame(Buffer.from(f))));
    });
  });
}

/** Frames of a loop, replayed from the first (a keyframe) over and over. */
class LoopSource implements FrameSource {
  private index = 0;
  constructor(private readonly frames: MediaFrame[]) {}
  take(): MediaFrame {
    const frame = this.frames[this.index]!;
    this.index = (this.index + 1) % this.frames.length;
    return frame;
  }
  close(): void {}
}

/** Frames from a running ffmpeg; reading pauses while enough are buffered, so ffmpeg waits too. */
class LiveSource implements FrameSource {
  private readonly queue: MediaFrame[] = [];
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private closed = false;

  constructor(args: string[], splitter: Splitter, logger: Logger, highWater: number) {
    this.child = runFfmpeg(args);
    let stderr = '';
    this.child.stdout.on('data', (chunk: Buffer) => {
      for (const frame of splitter.push(chunk)) this.queue.push(new MediaFrame(Buffer.from(frame)));
      if (this.queue.length >= highWater) this.child.stdout.pause();
    });
    this.child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.child.on('error', (err) => logger.error({ err: err.message }, 'ffmpeg could not start'));
    this.child.on('close', (code, signal) => {
      if (!this.closed)
        logger.error({ code, signal, stderr: stderr.trim().slice(0, 500) }, 'ffmpeg ended early');
    });
  }

  take(): MediaFrame | undefined {
    const frame = this.queue.shift();
    if (this.queue.length < 2 && !this.closed) this.child.stdout.resume();
    return frame;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.child.stdout.destroy();
    this.child.kill('SIGKILL'); // a test pattern has nothing to flush
  }
}

const LIVE_VIDEO_HIGH_WATER = 6;
const LIVE_AUDIO_HIGH_WATER = 16;

export interface MediaFactoryOptions {
  mode: 'live' | 'loop';
  loopSeconds: number;
  logger: Logger;
}

/** Opens frame sources; in loop mode each profile is encoded once and shared by all streams. */
export class MediaFactory {
  private readonly loops = new Map<string, Promise<MediaFrame[]>>();

  constructor(private readonly options: MediaFactoryOptions) {}

  async video(profile: VideoProfile, caption: string): Promise<FrameSource> {
    if (this.options.mode === 'live')
      return new LiveSource(
        videoArgs(profile, caption),
        new AccessUnitSplitter(),
        this.options.logger,
        LIVE_VIDEO_HIGH_WATER,
      );
    // Whole GOPs (2 s each), so the loop restarts on a keyframe.
    const seconds = Math.max(2, Math.ceil(this.options.loopSeconds / 2) * 2);
    const key = `video:${profile.width}x${profile.height}@${profile.fps}:${profile.bitrateKbps}`;
    return new LoopSource(
      await this.cached(key, () => encodeAll(videoArgs(profile, 'loop', seconds), new AccessUnitSplitter())),
    );
  }

  async audio(): Promise<FrameSource> {
    if (this.options.mode === 'live')
      return new LiveSource(audioArgs(), new AdtsSplitter(), this.options.logger, LIVE_AUDIO_HIGH_WATER);
    return new LoopSource(
      await this.cached('audio', () => encodeAll(audioArgs(this.options.loopSeconds), new AdtsSplitter())),
    );
  }

  private cached(key: string, encode: () => Promise<MediaFrame[]>): Promise<MediaFrame[]> {
    let frames = this.loops.get(key);
    if (!frames) {
      frames = encode();
      frames.catch(() => this.loops.delete(key)); // a failed encode is retried next time
      this.loops.set(key, frames);
    }
    return frames;
  }
}
