import { rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { cameraSettings } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';
import { FfmpegProcess, probe, rtspRecordingArgs, type FfmpegExit } from '@eufy-relay/media';
import type { RecorderContext } from './context';
import type { FirstFrame, SegmentResult } from './segment-writer';

/**
 * Where a camera's video comes from (design.md "Video sources"): `rtsp` when the camera has an RTSP
 * URL (configured `rtsp_url`, else the bridge's `rtspStream` + `rtspStreamUrl`) and its source is
 * `auto` or `rtsp`; otherwise `p2p`. `fallback`: an RTSP failure continues the recording over P2P.
 */
export type SourceChoice =
  { source: 'rtsp'; url: string; fallback: boolean; why: string } | { source: 'p2p'; why: string };

export function chooseSource(ctx: Pick<RecorderContext, 'config' | 'client'>, sn: string): SourceChoice {
  const { source, rtsp_url } = cameraSettings(ctx.config, sn);
  if (source === 'p2p') return { source: 'p2p', why: 'source: p2p in the config' };
  const properties = ctx.client.state?.devices.get(sn)?.properties;
  const reported =
    properties?.rtspStream === true && typeof properties.rtspStreamUrl === 'string'
      ? properties.rtspStreamUrl
      : '';
  const url = rtsp_url ?? (reported || null);
  const fallback = source === 'auto';
  if (url)
    return {
      source: 'rtsp',
      url,
      fallback,
      why: rtsp_url ? 'rtsp_url in the config' : 'the camera reports RTSP (rtspStream, rtspStreamUrl)',
    };
  const none =
    properties?.rtspStream === true
      ? 'the camera has RTSP on but reports no URL (set rtsp_url)'
      : 'the camera has no RTSP stream (rtspStream off, no rtsp_url configured)';
  // `rtsp` without a URL cannot be honoured: P2P is the only way to get video at all.
  return { source: 'p2p', why: source === 'rtsp' ? `source: rtsp, but ${none}` : none };
}

/** `rtsp://user:pass@host` → `rtsp://user:***@host`, for logs and the index. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/** Why an RTSP pull ended, in words, from ffmpeg's last lines and whether video ever came. */
export function rtspFailure(exit: FfmpegExit, framesWritten: number, timeoutSeconds: number): string {
  const said = exit.stderr.slice(-2).join(' | ');
  if (/401|Unauthorized/i.test(said)) return `RTSP authentication failed (${said})`;
  if (/Connection refused|404|403|503|Not Found|Forbidden|Unavailable/i.test(said))
    return `RTSP refused (${said})`;
  if (framesWritten === 0)
    return `RTSP delivered no video within ${timeoutSeconds} s${said ? ` (${said})` : ''}`;
  return `RTSP stream ended (no data for ${timeoutSeconds} s, or the camera closed it)${said ? `: ${said}` : ''}`;
}

/** How often a new RTSP segment's file is looked at until its first frame shows. */
const FIRST_FRAME_POLL_MS = 20;

export interface RtspSegmentOptions {
  url: string;
  file: string;
  timeoutSeconds: number;
  /** How often the growing file is looked at once it has its first frame (last frame). Default 100. */
  pollMs?: number;
  interruptGraceMs: number;
  logger: Logger;
  onFirstFrame: (frame: FirstFrame) => void;
}

/**
 * One segment of a recording pulled over RTSP: ffmpeg alone (no frames pass through Node), so the
 * segment's first and last frames are seen as the file grows. `ended` resolves when ffmpeg exits
 * on its own (refused, auth, silent, dropped) with why; `close()` stops it in order (SIGINT: ffmpeg
 * finishes the file).
 */
export class RtspSegment {
  readonly ended: Promise<string>;
  private ffmpeg: FfmpegProcess | undefined;
  private closing: Promise<SegmentResult> | undefined;
  private firstFrameAt: number | null = null;
  private lastFrameAt: number | null = null;
  private lastSize = 0;
  private info: { codec: 'h264' | 'h265'; audio: boolean } | null = null;
  private readonly started: Promise<void>;

  constructor(private readonly options: RtspSegmentOptions) {
    this.started = this.start();
    this.ended = this.started.then(
      () => this.watch(),
      (err: unknown) => `ffmpeg could not start: ${(err as Error).message}`,
    );
  }

  get file(): string {
    return this.options.file;
  }

  close(): Promise<SegmentResult> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async start(): Promise<void> {
    this.ffmpeg = await FfmpegProcess.start({
      args: rtspRecordingArgs({
        url: this.options.url,
        output: this.options.file,
        timeoutSeconds: this.options.timeoutSeconds,
      }),
      // Nothing comes on stdin: stopping is SIGINT at once, after which ffmpeg finishes the file.
      endGraceMs: 0,
      interruptGraceMs: this.options.interruptGraceMs,
    });
  }

  /** Follows the file until ffmpeg exits; a stream with no first frame in time is stopped. */
  private async watch(): Promise<string> {
    const ffmpeg = this.ffmpeg!;
    const pollMs = this.options.pollMs ?? 100;
    const firstFrameBound = Date.now() + this.options.timeoutSeconds * 1000;
    let exited = false;
    void ffmpeg.exited.then(() => (exited = true));
    while (!exited && !this.closing) {
      await this.look();
      if (this.firstFrameAt === null && Date.now() > firstFrameBound) {
        await ffmpeg.stop();
        return `RTSP delivered no video within ${this.options.timeoutSeconds} s`;
      }
      // Until the first frame, often: its time is the recording's video_started_at.
      await Promise.race([sleep(this.firstFrameAt === null ? FIRST_FRAME_POLL_MS : pollMs), ffmpeg.exited]);
    }
    const exit = await ffmpeg.exited;
    await this.look();
    return rtspFailure(exit, this.firstFrameAt === null ? 0 : 1, this.options.timeoutSeconds);
  }

  /** The file grew: frames arrived. Its header (the first packet) marks the first frame. */
  private async look(): Promise<void> {
    const size = await stat(this.options.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size <= this.lastSize) return;
    this.lastSize = size;
    const now = Date.now();
    this.lastFrameAt = now;
    if (this.firstFrameAt !== null) return;
    this.firstFrameAt = now;
    const info = await probe(this.options.file).catch(() => null);
    const codec = info?.videoCodec === 'hevc' ? 'h265' : 'h264';
    this.info = { codec, audio: info?.hasAudio === true };
    this.options.onFirstFrame({
      at: now,
      codec,
      width: info?.width ?? 0,
      height: info?.height ?? 0,
      audio: info?.hasAudio === true,
    });
  }

  private async finish(): Promise<SegmentResult> {
    await this.started.catch(() => undefined);
    const exit = this.ffmpeg ? await this.ffmpeg.stop() : null;
    await this.look();
    const framesWritten = this.firstFrameAt === null ? 0 : 1;
    if (framesWritten === 0) await rm(this.options.file, { force: true });
    return {
      file: this.options.file,
      framesWritten,
      firstFrameAt: this.firstFrameAt,
      lastFrameAt: this.lastFrameAt,
      codec: this.info?.codec ?? null,
      audio: this.info?.audio ?? false,
      audioDropped: 0,
      exit,
    };
  }
}
