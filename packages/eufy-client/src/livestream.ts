import { isKeyframe, type VideoCodec } from './video';

export interface VideoChunk {
  kind: 'video';
  /** One access unit (normally one whole frame), Annex-B with start codes, as the camera sent it. */
  buffer: Buffer;
  codec: VideoCodec;
  fps: number;
  width: number;
  height: number;
  /** Starts with an IDR/IRAP picture or parameter sets: a safe place to start a file. */
  keyframe: boolean;
  /** Wall-clock arrival (ms since epoch): Annex-B carries no timestamps, so pace by this or by fps. */
  receivedAt: number;
}

export interface AudioChunk {
  kind: 'audio';
  /** One AAC frame as received (ADTS-framed on the cameras seen so far). */
  buffer: Buffer;
  /** "AAC", "AAC_LC", "AAC_ELD", "NONE" or "UNKNOWN" as the server names it. */
  codec: string;
  receivedAt: number;
}

export type LivestreamChunk = VideoChunk | AudioChunk;

/**
 * Why a livestream ended. Every stream ends exactly once with one of these:
 * - `stopped`: `stop()` was called.
 * - `server_stopped`: the server sent `livestream stopped` (no data for ~5 s, another camera of the same
 *   station took the P2P channel, camera firmware cap, another client stopped it).
 * - `connection_lost`: the WebSocket to eufy-security-ws closed.
 * - `start_timeout`: no `livestream started` within the start timeout (P2P silently failed).
 * - `start_failed`: the P2P acknowledgement (`command result`) had a non-zero `returnCode`.
 * - `overflow`: the consumer read too slowly and the queue passed its bound (data would be lost).
 * - `client_closed`: the client was closed.
 */
export type LivestreamEndReason =
  | 'stopped'
  | 'server_stopped'
  | 'connection_lost'
  | 'start_timeout'
  | 'start_failed'
  | 'overflow'
  | 'client_closed';

export interface LivestreamEnd {
  reason: LivestreamEndReason;
  /** One human-readable line. */
  message: string;
  /** For `start_failed`: the P2P return code and its name (e.g. -133 ERROR_COMMAND_TIMEOUT). */
  returnCode?: number;
  returnCodeName?: string;
}

export interface LivestreamOptions {
  startTimeoutMs: number;
  maxQueuedChunks: number;
}

/**
 * One device's livestream on one client connection: an async iterable of chunks that finishes when
 * the stream ends; `ended` then says why. Created by `EufyClient.startLivestream`.
 */
export class Livestream implements AsyncIterable<LivestreamChunk> {
  /** Resolves (never rejects) once the stream has ended, with the reason. */
  readonly ended: Promise<LivestreamEnd>;
  private resolveEnded!: (end: LivestreamEnd) => void;
  private end: LivestreamEnd | undefined;
  private isStarted = false;
  private readonly queue: LivestreamChunk[] = [];
  private wake: (() => void) | undefined;
  private iterating = false;
  private startTimer: NodeJS.Timeout | undefined;
  private stats = { video: 0, audio: 0, bytes: 0 };

  constructor(
    readonly serialNumber: string,
    private readonly options: LivestreamOptions,
    /** Sends stop_livestream and waits for the server to confirm (or for a bound). */
    private readonly stopOnServer: () => Promise<void>,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.startTimer = setTimeout(() => {
      this.finish({
        reason: 'start_timeout',
        message: `no "livestream started" for ${serialNumber} within ${options.startTimeoutMs} ms`,
      });
      // Fire-and-forget: stopOnServer catches and logs its own errors; the timer that fails the stream cannot wait for it.
      void this.stopOnServer();
    }, options.startTimeoutMs);
  }

  /** True once `livestream started` (or data) arrived. */
  get started(): boolean {
    return this.isStarted;
  }

  /** The end, once there is one. */
  get endReason(): LivestreamEnd | undefined {
    return this.end;
  }

  /** Chunks and bytes received so far. */
  get received(): { video: number; audio: number; bytes: number } {
    return { ...this.stats };
  }

  /** Ends the stream with `stopped` and tells the server; ignores a server that already stopped it. */
  async stop(): Promise<void> {
    if (this.end) return;
    this.finish({ reason: 'stopped', message: `livestream of ${this.serialNumber} stopped by the client` });
    await this.stopOnServer();
  }

  /** The next chunk, waiting for it; undefined once the stream has ended and every chunk was read. */
  async read(): Promise<LivestreamChunk | undefined> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) return chunk;
      if (this.end) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** `for await (const chunk of stream)`; leaving the loop early (break, throw) stops the stream. */
  [Symbol.asyncIterator](): AsyncIterator<LivestreamChunk> {
    if (this.iterating) throw new Error(`livestream of ${this.serialNumber} can be iterated only once`);
    this.iterating = true;
    return {
      next: async () => {
        const chunk = await this.read();
        return chunk ? { value: chunk, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        await this.stop();
        return { value: undefined, done: true };
      },
    };
  }

  // ---- fed by the client ----

  /** @internal */
  markStarted(): void {
    this.isStarted = true;
    clearTimeout(this.startTimer);
  }

  /** @internal */
  pushVideo(
    buffer: Buffer,
    metadata: { videoCodec: string; videoFPS: number; videoWidth: number; videoHeight: number },
  ): void {
    const codec = metadata.videoCodec as VideoCodec;
    this.stats.video++;
    this.push({
      kind: 'video',
      buffer,
      codec,
      fps: metadata.videoFPS,
      width: metadata.videoWidth,
      height: metadata.videoHeight,
      keyframe: isKeyframe(buffer, codec),
      receivedAt: Date.now(),
    });
  }

  /** @internal */
  pushAudio(buffer: Buffer, metadata: { audioCodec: string }): void {
    this.stats.audio++;
    this.push({ kind: 'audio', buffer, codec: metadata.audioCodec, receivedAt: Date.now() });
  }

  /** @internal Ends the stream (first reason wins); queued chunks are still delivered. */
  finish(end: LivestreamEnd): void {
    if (this.end) return;
    this.end = end;
    clearTimeout(this.startTimer);
    this.resolveEnded(end);
    this.wakeReader();
  }

  private push(chunk: LivestreamChunk): void {
    if (this.end) return;
    if (!this.isStarted) this.markStarted();
    this.stats.bytes += chunk.buffer.length;
    this.queue.push(chunk);
    if (this.queue.length > this.options.maxQueuedChunks) {
      this.finish({
        reason: 'overflow',
        message: `livestream of ${this.serialNumber}: reader fell ${this.options.maxQueuedChunks} chunks behind`,
      });
      // Fire-and-forget: stopOnServer catches and logs its own errors; the reader has already been told why the stream ended.
      void this.stopOnServer();
      return;
    }
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
