import { rm } from 'node:fs/promises';
import type { LivestreamChunk } from '@eufy-relay/eufy-client';
import type { Logger } from '@eufy-relay/logger';
import {
  KeyframeGate,
  adtsFrameLength,
  codecFromMetadata,
  describeExit,
  startRecording,
  type AccessUnit,
  type FfmpegExit,
  type RecordingProcess,
  type VideoCodec,
} from '@eufy-relay/media';

/**
 * eufy-security-ws sends `livestream started` after the first audio frame, or after this long
 * without one (the bridge's own rule; reference/eufy-security-ws-protocol.md). Video arriving this
 * long without audio means the stream has none.
 */
export const AUDIO_EVIDENCE_MS = 650;

export interface FirstFrame {
  /** Wall clock when the first frame went to ffmpeg (ffmpeg stamps frames as it reads them). */
  at: number;
  codec: VideoCodec;
  width: number;
  height: number;
  audio: boolean;
}

export interface SegmentWriterOptions {
  file: string;
  /** The codec the camera sent last time: ffmpeg can start before the first frame arrives. */
  expectedCodec: VideoCodec;
  /**
   * Whether the camera is expected to send audio. False: ffmpeg starts at once, video only. True:
   * it starts once the stream shows audio (ffmpeg with an audio input writes nothing until audio
   * arrives), or AUDIO_EVIDENCE_MS of video without any.
   */
  expectAudio: boolean;
  /** ffmpeg's stop bounds: after closing its inputs, then after SIGINT. */
  endGraceMs: number;
  interruptGraceMs: number;
  logger: Logger;
  onFirstFrame: (frame: FirstFrame) => void;
}

export interface SegmentResult {
  file: string;
  framesWritten: number;
  firstFrameAt: number | null;
  lastFrameAt: number | null;
  codec: VideoCodec | null;
  audio: boolean;
  /** Audio frames dropped because this segment's ffmpeg was started without audio. */
  audioDropped: number;
  exit: FfmpegExit | null;
}

type Held =
  { kind: 'video'; unit: AccessUnit; width: number; height: number } | { kind: 'audio'; data: Buffer };

/**
 * One segment of a recording: one ffmpeg writing one fragmented MP4 from livestream chunks. H.264 /
 * H.265 access units pass a keyframe gate (a file never starts mid-GOP, and a restarted livestream
 * continues the same file from its first keyframe, the gap kept in wall-clock time); AAC is muxed
 * when the stream carries it. Writes never block: ffmpeg's pipes are bounded and drop (then resync
 * on a keyframe) rather than queue without limit.
 *
 * When ffmpeg exits on its own, `broken` says why; the owner closes this segment and starts another.
 */
export class SegmentWriter {
  private recording: RecordingProcess | undefined;
  private recordingCodec: VideoCodec | undefined;
  private gate: KeyframeGate | undefined;
  private held: Held[] = [];
  private withAudio: boolean | undefined;
  private firstVideoAt: number | undefined;
  private lastVideoAt = 0;
  private framesWritten = 0;
  private firstFrameAt: number | null = null;
  private lastFrameAt: number | null = null;
  private audioDropped = 0;
  private spawning = false;
  private work: Promise<void> = Promise.resolve();
  private closing: Promise<SegmentResult> | undefined;
  private failure: Error | undefined;

  constructor(private readonly options: SegmentWriterOptions) {
    if (!options.expectAudio) {
      this.withAudio = false;
      // Video only: start ffmpeg now, so it is reading when the first frame comes (frames that wait
      // for ffmpeg to start are all stamped at once and the file comes out that much shorter).
      this.respawn(options.expectedCodec);
    }
  }

  get file(): string {
    return this.options.file;
  }

  /** Why this segment cannot take more video (ffmpeg exited, unusable stream); undefined while fine. */
  get broken(): Error | undefined {
    return this.failure;
  }

  /** ffmpeg's process id while it runs. */
  get pid(): number | undefined {
    return this.recording?.ffmpeg.running ? this.recording.ffmpeg.pid : undefined;
  }

  push(chunk: LivestreamChunk): void {
    if (this.closing || this.failure) return;
    if (chunk.kind === 'video')
      this.pushVideo(chunk.buffer, chunk.codec, chunk.width, chunk.height, chunk.receivedAt);
    else this.pushAudio(chunk.buffer);
    this.drain();
  }

  /** The livestream was restarted: continue from its first keyframe. */
  newSession(): void {
    if (!this.gate || this.closing) return;
    this.hold(this.gate.newSession());
    this.drain();
  }

  /** Writes what is left, stops ffmpeg in order (end input, SIGINT, SIGKILL) and says what was written. */
  close(): Promise<SegmentResult> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private pushVideo(buffer: Buffer, codecName: string, width: number, height: number, at: number): void {
    let codec: VideoCodec;
    try {
      codec = codecFromMetadata(codecName);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.gate && this.gate.codec !== codec) {
      if (this.framesWritten > 0) {
        this.fail(
          new Error(`the camera changed codec from ${this.gate.codec} to ${codec}: a new file is needed`),
        );
        return;
      }
      this.gate = undefined;
      this.held = this.held.filter((h) => h.kind !== 'video');
    }
    this.gate ??= new KeyframeGate(codec);
    const units = this.gate.push(buffer);
    if (units.length > 0) this.firstVideoAt ??= at;
    this.lastVideoAt = at;
    this.hold(units, width, height);
  }

  private pushAudio(data: Buffer): void {
    if (
      this.withAudio === undefined &&
      this.firstVideoAt !== undefined &&
      adtsFrameLength(data) !== undefined
    )
      this.withAudio = true;
    // Before the first video frame, or into a video-only ffmpeg, audio has nowhere to go.
    if (this.withAudio !== true || this.firstVideoAt === undefined) {
      if (this.withAudio === false) this.audioDropped += 1;
      return;
    }
    this.held.push({ kind: 'audio', data });
  }

  private hold(units: AccessUnit[], width = 0, height = 0): void {
    for (const unit of units) this.held.push({ kind: 'video', unit, width, height });
  }

  /** Writes what is held once ffmpeg runs with the right codec and inputs. */
  private drain(): void {
    if (this.failure || this.spawning) return;
    if (
      this.withAudio === undefined &&
      this.firstVideoAt !== undefined &&
      (this.closing || this.lastVideoAt - this.firstVideoAt >= AUDIO_EVIDENCE_MS)
    )
      this.withAudio = false;
    const codec = this.gate?.codec;
    if (this.withAudio === undefined || !codec || this.held.length === 0) return;
    if (!this.recording || (this.recordingCodec !== codec && this.framesWritten === 0)) {
      this.respawn(codec);
      return;
    }
    const recording = this.recording;
    for (const item of this.held.splice(0)) {
      if (item.kind === 'audio') {
        recording.audio?.write(item.data);
        continue;
      }
      if (!recording.video.write(item.unit.data, { keyframe: item.unit.keyframe })) continue;
      const now = Date.now();
      this.lastFrameAt = now;
      if (this.framesWritten++ === 0) {
        this.firstFrameAt = now;
        this.options.onFirstFrame({
          at: now,
          codec,
          width: item.width,
          height: item.height,
          audio: this.withAudio,
        });
      }
    }
  }

  /** (Re)starts ffmpeg for `codec`; a guess that proved wrong is stopped first (it wrote nothing). */
  private respawn(codec: VideoCodec): void {
    this.spawning = true;
    const previous = this.recording;
    this.recording = undefined;
    this.work = this.work
      .then(async () => {
        if (previous) {
          await previous.ffmpeg.stop();
          await rm(this.options.file, { force: true });
        }
        if (this.closing && this.held.length === 0) return;
        const recording = await startRecording({
          output: this.options.file,
          codec,
          audio: this.withAudio === true,
          endGraceMs: this.options.endGraceMs,
          interruptGraceMs: this.options.interruptGraceMs,
        });
        this.recording = recording;
        this.recordingCodec = codec;
        // Fire-and-forget: exited never rejects; this only logs an ffmpeg that ends on its own.
        void recording.ffmpeg.exited.then((exit) => {
          if (this.recording === recording && !this.closing)
            this.fail(new Error(`${describeExit(exit)} while recording ${this.options.file}`));
        });
      })
      .catch((err: unknown) => this.fail(err as Error))
      .finally(() => {
        this.spawning = false;
        this.drain();
      });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.options.logger.warn({ err, file: this.options.file }, 'recording segment broke off');
  }

  private async finish(): Promise<SegmentResult> {
    if (this.gate) this.hold(this.gate.end());
    this.drain();
    // A start in progress drains when it is done, which may start ffmpeg once more (codec guess).
    for (let pending = this.work; ; pending = this.work) {
      await pending;
      if (pending === this.work) break;
    }
    const exit = this.recording ? await this.recording.ffmpeg.stop() : null;
    // A segment that got no frame leaves nothing behind (ffmpeg may have created an empty file).
    if (this.framesWritten === 0) await rm(this.options.file, { force: true });
    return {
      file: this.options.file,
      framesWritten: this.framesWritten,
      firstFrameAt: this.firstFrameAt,
      lastFrameAt: this.lastFrameAt,
      codec: this.recordingCodec ?? null,
      audio: this.withAudio === true,
      audioDropped: this.audioDropped,
      exit,
    };
  }
}
