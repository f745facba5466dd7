import { rm } from 'node:fs/promises';
import type { Logger } from '@eufy-relay/logger';
import {
  MpegTsMuxer,
  describeExit,
  startRecording,
  type RecordingProcess,
  type TimedUnit,
} from '@eufy-relay/media';
import type { CameraPrebuffer, Follower } from './prebuffer';
import type { FirstFrame, SegmentResult } from './segment-writer';

export interface BufferedSegmentOptions {
  file: string;
  prebuffer: CameraPrebuffer;
  /** The file starts at the last keyframe at or before this moment (ms). */
  from: number;
  endGraceMs: number;
  interruptGraceMs: number;
  logger: Logger;
  onFirstFrame: (frame: FirstFrame) => void;
}

/**
 * One segment of a recording taken from the camera's pre-motion buffer: its buffered seconds, then
 * the live frames, each with its own arrival time (MPEG-TS into ffmpeg), so the pre-roll keeps its
 * spacing and the file's timeline stays the wall clock. Video only.
 */
export class BufferedSegment {
  /** Resolves with why, when the buffer's stream ended under the recording or ffmpeg failed. */
  readonly ended: Promise<string>;
  /** The wall clock of the file's first frame (before the motion by the pre-roll). */
  readonly firstFrameAt: number;
  private framesWritten = 0;
  private lastFrameAt: number | null = null;
  private closing: Promise<SegmentResult> | undefined;

  private constructor(
    private readonly options: BufferedSegmentOptions,
    private readonly recording: RecordingProcess,
    private readonly follower: Follower,
    private readonly muxer: MpegTsMuxer,
  ) {
    this.firstFrameAt = follower.units[0]!.at;
    this.ended = Promise.race([
      follower.ended.then((why) => `the pre-motion buffer's stream ended: ${why}`),
      recording.ffmpeg.exited.then((exit) => `${describeExit(exit)} while recording ${options.file}`),
    ]);
  }

  /** Undefined when the buffer has no video now: the recording gets its video another way. */
  static async open(options: BufferedSegmentOptions): Promise<BufferedSegment | undefined> {
    const { prebuffer } = options;
    // Live frames that come while ffmpeg starts wait here.
    const held: TimedUnit[] = [];
    let take = (unit: TimedUnit): void => void held.push(unit);
    const follower = prebuffer.follow(options.from, (unit) => take(unit));
    if (!follower) return undefined;
    let recording: RecordingProcess;
    try {
      recording = await startRecording({
        output: options.file,
        codec: follower.codec,
        input: 'mpegts',
        endGraceMs: options.endGraceMs,
        interruptGraceMs: options.interruptGraceMs,
      });
    } catch (err) {
      follower.detach();
      throw err;
    }
    const segment = new BufferedSegment(options, recording, follower, new MpegTsMuxer(follower.codec));
    for (const unit of [...follower.units, ...held]) segment.write(unit);
    take = (unit) => segment.write(unit);
    return segment;
  }

  close(): Promise<SegmentResult> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private write({ unit, at }: TimedUnit): void {
    if (this.closing) return;
    if (!this.recording.video.write(this.muxer.unit(unit, at), { keyframe: unit.keyframe })) return;
    this.lastFrameAt = at;
    if (this.framesWritten++ === 0)
      this.options.onFirstFrame({ at, codec: unit.codec, width: 0, height: 0, audio: false });
  }

  private async finish(): Promise<SegmentResult> {
    this.follower.detach();
    const exit = await this.recording.ffmpeg.stop();
    if (!exit.ok) this.options.logger.warn({ stderr: exit.stderr }, 'ffmpeg did not end cleanly');
    if (this.framesWritten === 0) await rm(this.options.file, { force: true });
    return {
      file: this.options.file,
      framesWritten: this.framesWritten,
      firstFrameAt: this.framesWritten > 0 ? this.firstFrameAt : null,
      lastFrameAt: this.lastFrameAt,
      codec: this.muxer.codec,
      audio: false,
      audioDropped: 0,
      exit,
    };
  }
}
