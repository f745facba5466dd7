import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { cameraSettings } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';
import {
  FfmpegProcess,
  FrameBudget,
  FrameRing,
  KeyframeGate,
  codecFromMetadata,
  rtspPullArgs,
  type AccessUnit,
  type TimedUnit,
  type VideoCodec,
} from '@eufy-relay/media';
import { stationOf, type RecorderContext } from './context';
import { chooseSource, redactUrl, rtspFailure, type SourceChoice } from './video-source';

/** The station slot holder a P2P pre-buffer writes: `prebuffer:{sn}:{process}`, never a recording id. */
export const PREBUFFER_HOLDER = /^prebuffer:/;

/**
 * Held beyond `prebuffer_seconds`: the recording asks for motion − N s when its session starts, a
 * moment after the motion (queues, Redis); by then the GOP it needs must still be there.
 */
const MOTION_SLACK_MS = 2_000;

export type PrebufferState = 'starting' | 'streaming' | 'paused' | 'retrying' | 'refused';

/** What a recording following the buffer gets: the units from its start, then each live one. */
export interface Follower {
  codec: VideoCodec;
  units: TimedUnit[];
  /** Resolves with why, when the buffer's stream ends (the recording continues another way). */
  ended: Promise<string>;
  detach(): void;
}

/**
 * One camera's pre-motion buffer (design.md "Video sources"): its stream kept open all the time
 * (ffmpeg pulling RTSP, else the P2P livestream), the last `prebuffer_seconds` held in a FrameRing.
 * A recording of the camera follows it: the file starts at the last keyframe at or before
 * motion − N s and goes on with the live frames.
 *
 * A P2P pre-buffer holds its station's stream slot (a station streams one camera at a time). A
 * recording of another camera of the station that needs the slot asks for it (StationSlots.want):
 * the pre-buffer stops its livestream and releases the slot, unless a recording follows it, in which
 * case it yields when that recording ends; it resumes once the slot is free again.
 */
export class CameraPrebuffer {
  readonly ring: FrameRing;
  state: PrebufferState = 'starting';
  source: 'rtsp' | 'p2p' | null = null;
  reason = '';
  private codec: VideoCodec | undefined;
  private readonly followers = new Set<{ push: (unit: TimedUnit) => void; end: (why: string) => void }>();
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  /** Set when another camera's recording asked for the station slot; the stream yields it. */
  private wanted: (() => void) | undefined;
  private yieldRequested = false;
  private readonly holder: string;
  /** Access units taken so far. */
  private taken = 0;
  /** RTSP pulls in a row that gave no video. */
  private rtspFailures = 0;

  constructor(
    private readonly ctx: RecorderContext,
    readonly sn: string,
    readonly seconds: number,
    budget: FrameBudget,
    private readonly log: Logger,
  ) {
    this.holder = `prebuffer:${sn}:${randomUUID().slice(0, 8)}`;
    this.ring = new FrameRing({
      keepMs: seconds * 1000 + MOTION_SLACK_MS,
      maxBytes: ctx.config.PREBUFFER_MAX_BYTES,
      budget,
    });
  }

  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.log.error({ err }, 'the pre-motion buffer stopped');
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    this.ring.clear();
  }

  /** Streaming with video held: a recording can follow it now. */
  get holdsVideo(): boolean {
    return this.state === 'streaming' && this.ring.length > 0 && this.codec !== undefined;
  }

  /**
   * A buffer opening its stream (or waiting for its first keyframe) is worth waiting for, up to
   * `timeoutMs`: the recording then starts with its pre-roll, and a P2P camera's livestream is the
   * buffer's (one per camera on a client). True once it holds video.
   */
  async whenVideo(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.holdsVideo && (this.state === 'starting' || this.state === 'streaming')) {
      if (signal.aborted || Date.now() >= until) return false;
      await sleep(50, undefined, { signal }).catch(() => undefined);
    }
    return this.holdsVideo;
  }

  /**
   * A recording takes the stream from `from` (ms): undefined when the buffer has no video now (it
   * is starting, paused or failed) and the recording must get its video another way.
   */
  follow(from: number, push: (unit: TimedUnit) => void): Follower | undefined {
    if (!this.holdsVideo) return undefined;
    let end!: (why: string) => void;
    const ended = new Promise<string>((resolve) => (end = resolve));
    const follower = { push, end };
    this.followers.add(follower);
    return {
      codec: this.codec!,
      units: this.ring.from(from),
      ended,
      detach: () => {
        this.followers.delete(follower);
        if (this.followers.size === 0 && this.yieldRequested) this.wanted?.();
      },
    };
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      await this.ctx.client.start().catch(() => undefined);
      const properties = this.ctx.client.state?.devices.get(this.sn)?.properties;
      if (typeof properties?.battery === 'number') {
        this.state = 'refused';
        this.reason =
          `no pre-motion buffer for ${this.sn} (prebuffer_seconds ${this.seconds}): the camera runs on a ` +
          `battery (${properties.battery} %) and an always-open stream would drain it; set its prebuffer_seconds to 0`;
        this.log.error(this.reason);
        return;
      }
      const choice = chooseSource(this.ctx, this.sn);
      const rtsp = choice.source === 'rtsp' && !this.rtspGaveWay(choice) ? choice : undefined;
      this.source = rtsp ? 'rtsp' : 'p2p';
      this.state = 'starting';
      const before = this.taken;
      const { why, planned } = await (
        rtsp
          ? this.pullRtsp(rtsp.url).then((ended) => ({ why: ended, planned: false }))
          : this.streamP2p(signal)
      ).catch((err: unknown) => ({ why: (err as Error).message, planned: false }));
      if (rtsp) this.rtspFailures = this.taken > before ? 0 : this.rtspFailures + 1;
      this.endFollowers(why);
      // What was held is older than the gap that follows: a recording would start in the past.
      this.ring.clear();
      if (signal.aborted) break;
      if (planned) {
        failures = 0;
        continue;
      }
      failures = this.taken > before ? 1 : failures + 1;
      this.state = 'retrying';
      this.reason = why;
      const delay = Math.min(30_000, this.ctx.config.RETRY_BASE_DELAY_MS * 2 ** Math.min(failures, 10));
      this.log.warn({ reason: why, retry_in_ms: delay }, 'pre-motion buffer stream ended: starting it again');
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  /** With source auto, RTSP that gave no video twice in a row gives way to P2P (a HomeBase that closed port 554). */
  private rtspGaveWay(choice: SourceChoice): boolean {
    return choice.source === 'rtsp' && choice.fallback && this.rtspFailures >= 2;
  }

  /** Takes a keyframe-gated unit: into the ring and to every recording following. */
  private take(unit: AccessUnit, at: number): void {
    this.taken += 1;
    if (this.state !== 'streaming') {
      this.state = 'streaming';
      this.reason = '';
      this.log.info({ source: this.source }, 'pre-motion buffer streaming');
    }
    this.ring.push(unit, at);
    for (const follower of this.followers) follower.push({ unit, at });
  }

  private endFollowers(why: string): void {
    for (const follower of [...this.followers]) follower.end(why);
    this.followers.clear();
  }

  /** ffmpeg pulls RTSP as Annex-B on stdout; returns why it ended. */
  private async pullRtsp(url: string): Promise<string> {
    const { config } = this.ctx;
    const codec = (await this.ctx.cameras.learned(this.sn)).codec ?? 'h264';
    const gate = new KeyframeGate(codec);
    this.codec = codec;
    this.log.info({ url: redactUrl(url) }, 'pre-motion buffer: pulling RTSP');
    const ffmpeg = await FfmpegProcess.start({
      args: rtspPullArgs({ url, codec, timeoutSeconds: config.RTSP_TIMEOUT_SECONDS }),
      stdout: true,
      signal: this.stopping.signal,
      endGraceMs: 0,
      interruptGraceMs: 2_000,
    });
    let frames = 0;
    ffmpeg.stdout?.on('data', (chunk: Buffer) => {
      const at = Date.now();
      for (const unit of gate.push(chunk)) {
        frames += 1;
        this.take(unit, at);
      }
    });
    const exit = await ffmpeg.exited;
    return rtspFailure(exit, frames, config.RTSP_TIMEOUT_SECONDS);
  }

  /**
   * The P2P livestream, holding the station's slot; says why it ended, `planned` when on purpose
   * (the slot lent, or the camera has RTSP now): the buffer then starts again at once.
   */
  private async streamP2p(signal: AbortSignal): Promise<{ why: string; planned: boolean }> {
    const { slots, client, config } = this.ctx;
    const station = await stationOf(this.ctx, this.sn, signal);
    this.state = 'paused';
    this.reason = `waiting for station ${station}'s stream slot`;
    if (!(await slots.acquire(station, this.holder, signal, () => undefined)))
      return { why: 'stopped', planned: false };
    const yielded = new AbortController();
    this.yieldRequested = false;
    this.wanted = () => yielded.abort();
    const unwatch = slots.onWanted(station, () => {
      this.yieldRequested = true;
      if (this.followers.size === 0) yielded.abort();
    });
    // The camera reported RTSP after the buffer started (or it was enabled): RTSP takes no slot.
    const toRtsp = new AbortController();
    const renewer = setInterval(() => {
      const choice = chooseSource(this.ctx, this.sn);
      if (choice.source === 'rtsp' && !this.rtspGaveWay(choice) && this.followers.size === 0) toRtsp.abort();
      slots.claim(station, this.holder).then(
        (holder) => holder && yielded.abort(),
        (err: unknown) => this.log.warn({ err }, 'could not renew the station slot'),
      );
    }, slots.leaseMs / 3);
    let stream: Awaited<ReturnType<typeof client.startLivestream>> | undefined;
    // Fire-and-forget: stop() of a livestream never rejects; the read loop below sees the end.
    const stop = () => void stream?.stop();
    signal.addEventListener('abort', stop, { once: true });
    yielded.signal.addEventListener('abort', stop, { once: true });
    toRtsp.signal.addEventListener('abort', stop, { once: true });
    try {
      stream = await client.startLivestream(this.sn, {
        startTimeoutMs: config.LIVESTREAM_START_TIMEOUT_SECONDS * 1000,
      });
      if (signal.aborted || yielded.signal.aborted || toRtsp.signal.aborted) await stream.stop();
      let gate: KeyframeGate | undefined;
      for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
        if (chunk.kind !== 'video') continue;
        gate ??= new KeyframeGate(codecFromMetadata(chunk.codec));
        this.codec = gate.codec;
        for (const unit of gate.push(chunk.buffer)) this.take(unit, chunk.receivedAt);
      }
      const end = await stream.ended;
      if (toRtsp.signal.aborted && !yielded.signal.aborted) {
        this.log.info('the camera has RTSP now: the pre-motion buffer moves to it');
        return { why: 'the camera has RTSP now', planned: true };
      }
      if (!yielded.signal.aborted)
        return { why: `the livestream ended (${end.reason}): ${end.message}`, planned: false };
      this.state = 'paused';
      this.reason = `station ${station}'s stream slot lent to another camera's recording`;
      this.log.info({ station_sn: station }, 'pre-motion buffer paused: another camera needs the station');
      return { why: this.reason, planned: true };
    } finally {
      clearInterval(renewer);
      unwatch();
      this.wanted = undefined;
      signal.removeEventListener('abort', stop);
      await slots.release(station, this.holder).catch(() => undefined);
      // Let the recording that asked take the slot before asking for it again.
      if (yielded.signal.aborted) await slots.waitTaken(station, signal);
    }
  }
}

/**
 * The recorder's pre-motion buffers, one per camera with `prebuffer_seconds` > 0, under one memory
 * budget (PREBUFFER_TOTAL_MAX_BYTES). What each holds is published on its camera in the devices
 * registry (`prebuffer`), which GET /devices and /metrics read.
 */
export class Prebuffers {
  readonly budget: FrameBudget;
  private readonly cameras = new Map<string, CameraPrebuffer>();
  private reporter: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: RecorderContext) {
    this.budget = new FrameBudget(ctx.config.PREBUFFER_TOTAL_MAX_BYTES);
  }

  get(sn: string): CameraPrebuffer | undefined {
    return this.cameras.get(sn);
  }

  /** Starts a buffer for every configured camera (PREBUFFER_SECONDS, `cameras.*.prebuffer_seconds`). */
  start(serials: Iterable<string>): void {
    for (const sn of serials) {
      const seconds = cameraSettings(this.ctx.config, sn).prebuffer_seconds;
      if (seconds <= 0 || this.cameras.has(sn)) continue;
      const buffer = new CameraPrebuffer(
        this.ctx,
        sn,
        seconds,
        this.budget,
        this.ctx.logger.child({ device_sn: sn, component: 'prebuffer' }),
      );
      this.cameras.set(sn, buffer);
      buffer.start();
    }
    // Fire-and-forget: report() logs its own failure; the next tick tries again. As often as slots renew.
    this.reporter ??= setInterval(() => void this.report(), this.ctx.slots.leaseMs / 3);
  }

  /** Publishes what each buffer holds on its camera (GET /devices, /metrics); a failure is logged. */
  async report(): Promise<void> {
    const at = Date.now();
    for (const b of this.cameras.values()) {
      const prebuffer = {
        state: b.state,
        source: b.source,
        bytes: b.ring.bytes,
        seconds: b.ring.spanMs / 1000,
        reason: b.reason,
        at,
      };
      await this.ctx.registry
        .updateDevice(b.sn, { prebuffer })
        .catch((err: unknown) => this.ctx.logger.warn({ err }, 'could not publish the pre-motion buffer'));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.reporter);
    await Promise.all([...this.cameras.values()].map((b) => b.stop()));
    for (const sn of this.cameras.keys())
      await this.ctx.registry.updateDevice(sn, { prebuffer: null }).catch(() => undefined);
  }
}
