import { WebSocket } from 'ws';
import type { MediaFrame } from './media';
import type { VideoProfile } from './scenario';

/** A socket this far behind on sending is skipped for media frames rather than grown without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** A stream that never produced a first frame (ffmpeg failed) is stopped after this. */
const FIRST_FRAME_GRACE_MS = 10_000;

/** What the pacers of a livestream share. */
export interface PacedStream {
  started: boolean;
  /** `cutLivestream(..., 'stall')`: no more data; the idle rule then stops the stream. */
  stalled: boolean;
  lastDataAt: number;
  /** The next tick of each pacer (video, audio). */
  timers: Map<string, NodeJS.Timeout>;
  ended: boolean;
}

export interface PaceOptions {
  /** The pacer's name among the stream's timers. */
  name: string;
  periodMs: number;
  /** A stream that sent nothing this long is idle (`onIdle`). */
  idleMs: number;
  onIdle: () => void;
  take: () => MediaFrame | undefined;
  send: (frame: MediaFrame) => void;
}

/**
 * Sends one frame per period on an absolute schedule (no drift over a long stream). A tick with no
 * frame ready sends nothing; a stream that has sent nothing for the idle bound is stopped.
 * Audio counts as data only once video started (audio waits for the first video frame).
 */
export function pace(stream: PacedStream, options: PaceOptions): void {
  const { name, periodMs, idleMs, take, send } = options;
  const startedAt = performance.now();
  let tick = 0;
  const step = () => {
    if (stream.ended) return;
    // ffmpeg's first frame can take a while on a busy machine: the idle rule is for a stream that flowed.
    const bound = stream.started ? idleMs : Math.max(idleMs, FIRST_FRAME_GRACE_MS);
    if (Date.now() - stream.lastDataAt > bound) {
      options.onIdle();
      return;
    }
    const frame = stream.stalled ? undefined : take();
    if (frame) {
      stream.lastDataAt = Date.now();
      send(frame);
    }
    tick++;
    stream.timers.set(name, setTimeout(step, Math.max(0, startedAt + tick * periodMs - performance.now())));
  };
  step();
}

/** One media message to every subscriber that keeps up. */
export function sendMedia(subscribers: Iterable<{ ws: WebSocket }>, message: Buffer): void {
  for (const client of subscribers) {
    if (client.ws.readyState !== WebSocket.OPEN) continue;
    if (client.ws.bufferedAmount > MAX_BUFFERED_BYTES) continue; // a stuck reader loses frames, not memory
    client.ws.send(message, { binary: false });
  }
}

/**
 * The `livestream video data` / `livestream audio data` events of one camera around a frame's
 * Buffer-JSON, built once per stream: only the frame changes from one message to the next.
 */
export function livestreamMessages(
  serialNumber: string,
  profile: VideoProfile,
): { video: (frame: MediaFrame) => Buffer; audio: (frame: MediaFrame) => Buffer } {
  const envelope = (event: string) =>
    Buffer.from(
      `{"type":"event","event":{"source":"device","event":"${event}","serialNumber":${JSON.stringify(serialNumber)},"buffer":`,
    );
  const videoPrefix = envelope('livestream video data');
  const videoSuffix = Buffer.from(
    `,"metadata":${JSON.stringify({ videoCodec: 'H264', videoFPS: profile.fps, videoHeight: profile.height, videoWidth: profile.width })}}}`,
  );
  const audioPrefix = envelope('livestream audio data');
  const audioSuffix = Buffer.from(`,"metadata":{"audioCodec":"AAC_LC"}}}`);
  return {
    video: (frame) => Buffer.concat([videoPrefix, frame.bufferJson, videoSuffix]),
    audio: (frame) => Buffer.concat([audioPrefix, frame.bufferJson, audioSuffix]),
  };
}
