import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AnnexBParser,
  KeyframeGate,
  adtsFrameLength,
  buildAccessUnit,
  runTool,
  startRecording,
  toolPath,
  type AccessUnit,
  type FfmpegProcess,
  type PipeInput,
  type RecordingOptions,
  type VideoCodec,
} from '../src';

/** A fresh directory under the system's temp dir, removed by the returned function. */
export async function tempDir(name: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `eufy-relay-media-${name}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

const ENCODERS = execFileSync(toolPath('ffmpeg'), ['-hide_banner', '-encoders']).toString();

/** Whether this ffmpeg can make test streams of `codec` (libx264 / libx265). */
export function canEncode(codec: VideoCodec): boolean {
  const encoder = codec === 'h264' ? 'libx264' : 'libx265';
  return new RegExp(`^\\s*\\S+\\s+${encoder}\\s`, 'm').test(ENCODERS);
}

/** `it` for a test that needs `codec`'s encoder; `it.skip` (reported as skipped) when ffmpeg lacks it. */
export function itEncoding(codec: VideoCodec): jest.It {
  return canEncode(codec) ? it : it.skip;
}

export interface StreamOptions {
  codec: VideoCodec;
  frames: number;
  fps?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  /** Slices per picture (several VCL NAL units per access unit). */
  slices?: number;
  /** H.264 only: an access unit delimiter in front of every access unit. */
  accessUnitDelimiters?: boolean;
}

/**
 * A real Annex-B elementary stream made by ffmpeg from its test pattern: 320x240, no B-frames and
 * parameter sets in front of every keyframe (like a camera), a keyframe every `gop` frames.
 */
export async function encodeStream(dir: string, options: StreamOptions): Promise<Buffer> {
  const fps = options.fps ?? 15;
  const gop = options.gop ?? 15;
  const file = join(
    dir,
    `test-${options.codec}-${options.frames}-${gop}-${options.slices ?? 1}-${Date.now()}`,
  );
  const input = [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=320x240:rate=${fps}`,
    '-frames:v',
    String(options.frames),
  ];
  const common = ['-pix_fmt', 'yuv420p', '-bf', '0', '-g', String(gop)];
  const codecArgs =
    options.codec === 'h264'
      ? [
          '-c:v',
          'libx264',
          ...common,
          ...(options.slices ? ['-slices', String(options.slices)] : []),
          ...(options.accessUnitDelimiters ? ['-x264-params', 'aud=1'] : []),
          '-f',
          'h264',
        ]
      : [
          '-c:v',
          'libx265',
          ...common,
          '-x265-params',
          `log-level=error:bframes=0:keyint=${gop}:min-keyint=${gop}:scenecut=0:repeat-headers=1${options.slices ? `:slices=${options.slices}` : ''}`,
          '-f',
          'hevc',
        ];
  await runTool('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...input, ...codecArgs, '-y', file]);
  return readFile(file);
}

/** ADTS-framed AAC-LC made by ffmpeg (a tone), split into its frames. */
export async function encodeAdtsFrames(dir: string, seconds: number): Promise<Buffer[]> {
  const file = join(dir, `tone-${Date.now()}.aac`);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=16000',
  ];
  await runTool('ffmpeg', [
    ...args,
    '-t',
    String(seconds),
    '-c:a',
    'aac',
    '-b:a',
    '32k',
    '-f',
    'adts',
    '-y',
    file,
  ]);
  return splitAdts(await readFile(file));
}

function splitAdts(data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const length = adtsFrameLength(data, at);
    if (length === undefined) throw new Error(`no ADTS frame at byte ${at}`);
    frames.push(data.subarray(at, at + length));
    at += length;
  }
  return frames;
}

/** The stream's access units as the parser sees them in one piece. */
export function accessUnitsOf(codec: VideoCodec, stream: Buffer): AccessUnit[] {
  const parser = new AnnexBParser(codec);
  return [...parser.push(stream), ...parser.flush()];
}

/** NAL unit types of the parameter sets, per codec. */
export const PARAMETER_SET_TYPES: Record<VideoCodec, number[]> = { h264: [7, 8], h265: [32, 33, 34] };

/** The units as a bridge joining a running stream may send them: keyframes without parameter sets. */
export function withoutParameterSets(units: readonly AccessUnit[]): AccessUnit[] {
  return units.map((unit) =>
    unit.keyframe
      ? buildAccessUnit(
          unit.codec,
          unit.nalUnits.filter((_, i) => !PARAMETER_SET_TYPES[unit.codec].includes(unit.nalTypes[i]!)),
        )
      : unit,
  );
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing chunking can be replayed by seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `data` into chunks of random sizes: many tiny ones (splitting start codes) and some large. */
export function randomChunks(data: Buffer, next: () => number, maxChunk = 4096): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const size = next() < 0.3 ? 1 + Math.floor(next() * 4) : 1 + Math.floor(next() * maxChunk);
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the recorder does: ffmpeg is started when the livestream is requested, and the camera's first
 * frame comes later (P2P setup takes seconds). Frames written before ffmpeg reads its pipe would all
 * get the time of that first read, so a test that wrote at once would measure ffmpeg's start-up
 * (0.2 s idle, more on a loaded machine) instead of the recording.
 */
export const livestreamStartup = () => sleep(1000);

export interface ProbedPacket {
  ptsSeconds: number;
  keyframe: boolean;
}

/** The video packets of a file as ffprobe reads them. */
export async function videoPackets(file: string): Promise<ProbedPacket[]> {
  const out = await runTool('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'json',
    file,
  ]);
  const packets = (JSON.parse(out) as { packets?: { pts_time?: string; flags?: string }[] }).packets ?? [];
  return packets.map((p) => ({ ptsSeconds: Number(p.pts_time), keyframe: (p.flags ?? '').includes('K') }));
}

/** Decodes the whole file and fails on the first decoding error (-xerror). */
export async function decodeFully(file: string): Promise<void> {
  await runTool('ffmpeg', ['-hide_banner', '-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
}

export interface LiveFeedOptions {
  fps: number;
  /** Before the frame at this index, the stream pauses for the given milliseconds. */
  pauses?: ReadonlyMap<number, number>;
  seed?: number;
}

export interface LiveFeed {
  /** Date.now() of the first and last write to ffmpeg. */
  firstWriteAt: number;
  lastWriteAt: number;
  written: number;
}

/**
 * Plays `units` as a camera would: one frame every 1/fps seconds (each cut into random chunks, as
 * eufy events may split them), through the gate, writing what it lets through to ffmpeg at once.
 * The gate's last access unit is flushed at the end, as the recorder does when a stream ends.
 */
export async function feedLive(
  input: PipeInput,
  gate: KeyframeGate,
  units: readonly AccessUnit[],
  options: LiveFeedOptions,
): Promise<LiveFeed> {
  const next = random(options.seed ?? 1);
  const feed: LiveFeed = { firstWriteAt: 0, lastWriteAt: 0, written: 0 };
  const write = (ready: AccessUnit[]) => {
    for (const unit of ready) {
      if (!input.write(unit.data, { keyframe: unit.keyframe })) throw new Error('a frame was dropped');
      feed.lastWriteAt = Date.now();
      feed.firstWriteAt ||= feed.lastWriteAt;
      feed.written += 1;
    }
  };
  let due = Date.now();
  for (const [i, unit] of units.entries()) {
    due += options.pauses?.get(i) ?? 0;
    await sleep(Math.max(0, due - Date.now()));
    for (const chunk of randomChunks(unit.data, next, 2048)) write(gate.push(chunk));
    due += 1000 / options.fps;
  }
  await sleep(Math.max(0, due - Date.now()));
  write(gate.end());
  return feed;
}

/** Seconds of video the feed should have made: first write to last write, plus the last frame. */
export function wallClockSeconds(feed: LiveFeed, fps: number): number {
  return (feed.lastWriteAt - feed.firstWriteAt) / 1000 + 1 / fps;
}

/**
 * Registers an afterEach that SIGKILLs any ffmpeg a failed test left running (waiting on stdin, or
 * SIGSTOPped), so jest never waits on an orphan. Returns the function that tracks a started one.
 */
export function killLeftoversAfterEach(): (ffmpeg: FfmpegProcess) => FfmpegProcess {
  const started: FfmpegProcess[] = [];
  afterEach(async () => {
    for (const ffmpeg of started.splice(0)) {
      if (!ffmpeg.running) continue;
      process.kill(ffmpeg.pid!, 'SIGKILL');
      await ffmpeg.exited;
    }
  });
  return (ffmpeg) => {
    started.push(ffmpeg);
    return ffmpeg;
  };
}

/**
 * Starts recordings the way the recorder will: ffmpeg first, then the livestream's first frame once
 * it waits (livestreamStartup), with a fresh KeyframeGate. Registers the afterEach that kills what a
 * failed test left running.
 */
export function liveRecordings() {
  const track = killLeftoversAfterEach();
  return async (options: RecordingOptions) => {
    const recording = await startRecording(options);
    track(recording.ffmpeg);
    await livestreamStartup();
    return { ...recording, gate: new KeyframeGate(options.codec) };
  };
}

/** Camera frame rate used by the recording tests. */
export const FPS = 15;
