import { access } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WaitingError, type Job } from 'bullmq';
import { type JobData, type recordingSessionJob } from '@eufy-relay/contracts';
import type { Livestream, LivestreamChunk, LivestreamEnd } from '@eufy-relay/eufy-client';
import type { Logger } from '@eufy-relay/logger';
import { BufferedSegment } from './buffered-segment';
import { finishRecording, type SessionSummary, type StopDecision } from './finish';
import type { StopReason } from './camera-state';
import { stationOf, type RecorderContext } from './context';
import { DiskFullError, isDiskFull, requestDiskPressureRun } from './disk-full';
import { SegmentWriter, type FirstFrame, type SegmentResult } from './segment-writer';
import { PREBUFFER_HOLDER } from './prebuffer';
import type { SegmentRecord } from './session-records';
import { RtspSegment, chooseSource, redactUrl } from './video-source';

export type { SessionSummary } from './finish';

/** The reason a session's job signal carries when BullMQ could not renew its lock (another recorder owns it). */
export const LOCK_LOST = 'lock_lost';

/** The recorder is shutting down: the session's job goes back to the queue for another recorder. */
class HandedBack extends Error {
  override readonly name = 'HandedBack';
}

/** Another recorder took the session over (this one's lock lapsed): stop without touching its state. */
class OwnershipLost extends Error {
  override readonly name = 'OwnershipLost';
}

export class LivestreamEndedError extends Error {
  override readonly name = 'LivestreamEnded';
  constructor(
    sn: string,
    readonly end: LivestreamEnd,
  ) {
    super(`the livestream of ${sn} ended before any video (${end.reason}): ${end.message}`);
  }
}

/**
 * The processor of a recording-session job. Shutdown hands the job back to the queue (another
 * recorder continues the recording); an error is retried by BullMQ, and on the last attempt the
 * recording is finished as failed rather than left "recording" for ever.
 */
export async function runRecordingSession(
  ctx: RecorderContext,
  data: JobData<typeof recordingSessionJob>,
  job: Job,
  signal: AbortSignal | undefined,
  log: Logger,
): Promise<SessionSummary> {
  const session = new RecordingSession(ctx, data.recording_id, data.device_sn, signal, log);
  try {
    return await session.run();
  } catch (err) {
    if (err instanceof HandedBack) {
      await job.moveToWait(job.token);
      log.info('recording handed back to the queue for another recorder');
      throw new WaitingError();
    }
    if (err instanceof OwnershipLost || signal?.aborted) throw err;
    const context = { device_sn: data.device_sn, recording_id: data.recording_id };
    if (job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
      log.warn({ err, attempt: job.attemptsMade + 1 }, 'recording session failed: it will be retried');
      throw err;
    }
    await ctx.reporter.report('record_video', err, { retryCount: job.attemptsMade, context });
    await session.finishAfterFailure(err).catch((finishErr: unknown) => {
      log.error({ err: finishErr }, 'could not finish the failed recording');
    });
    throw err;
  }
}

/** Ends a recording that no recorder owns any more (sweep.ts) as a failed job's last attempt does. */
export async function finishOrphan(
  ctx: RecorderContext,
  recording: { id: string; device_sn: string },
  why: string,
  log: Logger,
): Promise<void> {
  await new RecordingSession(ctx, recording.id, recording.device_sn, undefined, log).finishAfterFailure(
    new Error(why),
  );
}

/**
 * One run of a recording's session in this process: from its start (or from where a dead or
 * stopping recorder left it) until the motion rules stop it, then the finish. Video goes into
 * segments: the first is `{id}.mp4` itself (its URL plays at once); a run that takes over writes a
 * new segment and the finish stitches them on the wall-clock timeline.
 */
class RecordingSession {
  private startedAt = 0;
  private station = '';
  private videoStarted = false;
  private waitingForSlot = false;
  private holdingSlot = false;
  private stream: Livestream | undefined;
  private writer: SegmentWriter | undefined;
  private segment: SegmentRecord | undefined;
  private decision: StopDecision | undefined;
  private forced: StopReason | undefined;
  private brokenSegments = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly ctx: RecorderContext,
    private readonly id: string,
    private readonly sn: string,
    private readonly signal: AbortSignal | undefined,
    private readonly log: Logger,
  ) {}

  async run(): Promise<SessionSummary> {
    const recording = await this.ctx.store.get(this.id);
    if (!recording || recording.status !== 'recording') {
      if (!recording) this.log.warn('the recording is not in the index: nothing to record');
      await this.ctx.sessions.remove(this.id);
      return { recording_id: this.id, outcome: recording ? 'already_finished' : 'missing' };
    }
    this.startedAt = recording.started_at;
    this.videoStarted = recording.video_started_at !== null;
    const first = await this.ctx.cameras.decide(this.sn, this.id, this.startedAt);
    if (first.kind === 'continue') return this.finishWith(await this.record(first.deadline));
    if (!this.videoStarted && (await this.ctx.sessions.problem(this.id)) === null)
      await this.ctx.sessions.setProblem(
        this.id,
        `no recorder was free to record it before its motion ended (${Math.round((Date.now() - this.startedAt) / 1000)} s ` +
          'after it started): every recorder ran RECORDER_CONCURRENCY recordings or none was running',
      );
    return this.finishWith(first);
  }

  /**
   * After the job failed for good, or when no recorder owns the recording any more (the sweep): end
   * it as failed, keeping what was recorded. A finish that cannot stitch the segments (a full disk)
   * keeps what is there without writing anything new, so this ends the recording whatever the disk.
   */
  async finishAfterFailure(err: unknown): Promise<void> {
    const recording = await this.ctx.store.get(this.id);
    if (!recording || recording.status !== 'recording') return;
    this.startedAt = recording.started_at;
    await this.ctx.sessions.setProblem(
      this.id,
      `the recording failed: ${(err as Error).message ?? String(err)}`,
    );
    const decision = await this.ctx.cameras.decide(this.sn, this.id, this.startedAt, 'recording_failed');
    if (decision.kind === 'stop') await this.finishWith(decision, { lastResort: true });
  }

  /** The finish (finish.ts): video assembled, thumbnail, motion_stopped, the index finished. */
  private finishWith(decision: StopDecision, options?: { lastResort?: boolean }): Promise<SessionSummary> {
    return finishRecording(
      { ctx: this.ctx, id: this.id, sn: this.sn, startedAt: this.startedAt, log: this.log },
      decision,
      options,
    );
  }

  // ------------------------------------------------------------------ recording

  private async record(deadline: number): Promise<StopDecision> {
    const { config, slots, store, sessions } = this.ctx;
    const stop = new AbortController();
    const forward = () => stop.abort(this.signal?.reason);
    if (this.signal?.aborted) forward();
    else this.signal?.addEventListener('abort', forward, { once: true });
    // Fire-and-forget: stop() of a livestream never rejects; an abort listener cannot wait for it anyway.
    stop.signal.addEventListener('abort', () => void this.stream?.stop(), { once: true });

    this.station = await stationOf(this.ctx, this.sn, stop.signal);
    await store.update(this.id, { station_sn: this.station });
    const watcher = this.watch(deadline, stop);
    // Fire-and-forget: renew() catches and logs its own errors; the next tick retries.
    const renewer = setInterval(() => void this.renew(), slots.leaseMs / 3);
    try {
      await this.recordBuffered(stop.signal);
      await this.recordRtsp(stop.signal);
      while (!stop.signal.aborted && !this.forced) {
        if (!this.holdingSlot) {
          this.holdingSlot = await slots.acquire(this.station, this.id, stop.signal, (holder) =>
            this.blocked(holder),
          );
          if (!this.holdingSlot) break;
          if (this.waitingForSlot) {
            this.waitingForSlot = false;
            this.log.info({ station_sn: this.station }, 'station stream slot free: starting the livestream');
            this.track(store.update(this.id, { waiting_for_slot_since: null }));
          }
        }
        this.writer ??= await this.openSegment();
        let opened: { stream: Livestream; first: LivestreamChunk[] };
        try {
          opened = await this.ctx.reporter.runWithRetries(
            'start_livestream',
            () => this.openStream(stop.signal),
            { signal: stop.signal, context: { device_sn: this.sn, recording_id: this.id } },
          );
        } catch (err) {
          if (stop.signal.aborted) break;
          const verb = this.videoStarted ? 'resumed' : 'started';
          await sessions.setProblem(
            this.id,
            `the livestream could not be ${verb} after ${config.RETRY_ATTEMPTS} retries: ${(err as Error).message}`,
          );
          this.forced = 'livestream_failed';
          break;
        }
        const streams = await sessions.countStream(this.id);
        if (streams > 1) {
          this.log.info({ restarts: streams - 1 }, 'livestream restarted');
          this.track(store.update(this.id, { restarts: streams - 1 }));
        }
        const end = await this.pump(opened.stream, opened.first);
        if (this.forced || stop.signal.aborted) break;
        this.log.warn({ reason: end.reason, message: end.message }, 'livestream ended early: restarting it');
        this.writer?.newSession();
      }
    } finally {
      clearInterval(renewer);
      stop.abort();
      await this.stream?.stop();
      const lockLost = this.signal?.reason === LOCK_LOST;
      // The slot is this recording's, not this process's: after a lost lock the new owner holds it.
      if (this.holdingSlot && !lockLost)
        await slots.release(this.station, this.id).catch((err: unknown) => {
          this.log.warn({ err }, 'could not release the station stream slot (its lease frees it)');
        });
      this.holdingSlot = false;
      await this.closeSegment();
      await watcher;
      await Promise.all(this.pending);
    }
    if (this.decision) return this.decision;
    if (this.forced) {
      const forced = await this.ctx.cameras.decide(this.sn, this.id, this.startedAt, this.forced);
      if (forced.kind === 'stop') return forced;
    }
    if (this.signal?.reason === LOCK_LOST)
      throw new OwnershipLost(`recording ${this.id} is now run by another recorder`);
    throw new HandedBack(`recording ${this.id} handed back`);
  }

  /**
   * RTSP first where the camera has it (video-source.ts): ffmpeg pulls the camera, no station slot,
   * no frames through Node. Returns when the recording stops, or when RTSP fails: then the recording
   * goes on over P2P (source auto) in a new segment, the reason in the index; with source rtsp it
   * fails instead.
   */
  private async recordRtsp(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const choice = chooseSource(this.ctx, this.sn);
    await this.setSource(choice.source, choice.why);
    if (choice.source !== 'rtsp') return;
    const { config } = this.ctx;
    this.log.info({ url: redactUrl(choice.url), why: choice.why }, 'recording over RTSP');
    let failure: string | undefined;
    for (
      let attempt = 0;
      !signal.aborted && attempt <= (choice.fallback ? 0 : config.RETRY_ATTEMPTS);
      attempt++
    ) {
      const segment = await this.openRtspSegment(choice.url);
      failure = await Promise.race([segment.ended, untilAborted(signal)]);
      await this.closeSegment(segment);
      if (failure === undefined || signal.aborted) return;
      this.log.warn({ reason: failure, attempt }, 'RTSP failed');
    }
    if (signal.aborted || failure === undefined) return;
    if (choice.fallback) {
      await this.setSource('p2p', `${failure}: the recording continues over P2P`);
      return;
    }
    await this.ctx.sessions.setProblem(this.id, `${failure} (source: rtsp, no P2P fallback)`);
    this.forced = 'livestream_failed';
  }

  /**
   * From the camera's pre-motion buffer (prebuffer.ts) when this recorder keeps one and it has video
   * (or gets it within LIVESTREAM_START_TIMEOUT_SECONDS, while it opens its stream): the file starts at the last keyframe at or before motion − prebuffer_seconds (a resumed
   * recording: at the latest keyframe), no stream to open. If the buffer's stream ends under the
   * recording, the recording goes on in a new segment the usual way (RTSP, else P2P).
   */
  private async recordBuffered(signal: AbortSignal): Promise<void> {
    const prebuffer = this.ctx.prebuffers?.get(this.sn);
    const bound = this.ctx.config.LIVESTREAM_START_TIMEOUT_SECONDS * 1000;
    if (!prebuffer || !(await prebuffer.whenVideo(bound, signal))) return;
    const resumed = this.videoStarted;
    const file = await this.nextSegmentFile();
    this.segment = await this.ctx.sessions.addSegment(this.id, path.basename(file));
    const shutdownMs = this.ctx.config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
    const segment = await BufferedSegment.open({
      file,
      prebuffer,
      from: resumed ? Date.now() : this.startedAt - prebuffer.seconds * 1000,
      endGraceMs: Math.min(10_000, shutdownMs / 3),
      interruptGraceMs: Math.min(5_000, shutdownMs / 6),
      logger: this.log,
      onFirstFrame: (frame) => this.onFirstFrame(frame),
    });
    if (!segment) return;
    await this.setSource(prebuffer.source ?? 'p2p', `the pre-motion buffer (${prebuffer.seconds} s)`);
    if (!resumed) {
      const preroll = Math.max(0, (this.startedAt - segment.firstFrameAt) / 1000);
      this.log.info({ preroll_seconds: preroll }, 'recording from the pre-motion buffer');
      this.track(this.ctx.store.update(this.id, { preroll_seconds: Math.round(preroll * 1000) / 1000 }));
    }
    const failure = await Promise.race([segment.ended, untilAborted(signal)]);
    await this.closeSegment(segment);
    if (failure !== undefined && !signal.aborted)
      this.log.warn(
        { reason: failure },
        'the pre-motion buffer stopped under the recording: it goes on without',
      );
  }

  private async setSource(source: 'rtsp' | 'p2p', why: string): Promise<void> {
    await this.ctx.store.update(this.id, { video_source: source, video_source_reason: why });
    await this.ctx.registry.updateDevice(this.sn, { video_source: source, video_source_reason: why });
  }

  private async openRtspSegment(url: string): Promise<RtspSegment> {
    const file = await this.nextSegmentFile();
    this.segment = await this.ctx.sessions.addSegment(this.id, path.basename(file));
    return new RtspSegment({
      url,
      file,
      timeoutSeconds: this.ctx.config.RTSP_TIMEOUT_SECONDS,
      interruptGraceMs: Math.min(5_000, (this.ctx.config.SHUTDOWN_TIMEOUT_SECONDS * 1000) / 6),
      logger: this.log,
      onFirstFrame: (frame) => this.onFirstFrame(frame),
    });
  }

  /**
   * The first video goes to {id}.mp4 itself; once it exists, later segments are temp files (the
   * janitor removes one left behind) stitched into it at the finish.
   */
  private async nextSegmentFile(): Promise<string> {
    const main = this.ctx.files.videoPath(this.id);
    return (await exists(main)) ? this.ctx.files.tempPath(this.id, 'video') : main;
  }

  /** Sleeps until the deadline, asks the rules, and stops the recording when they say so. */
  private async watch(deadline: number, stop: AbortController): Promise<void> {
    let next = deadline;
    while (!stop.signal.aborted) {
      try {
        await sleep(Math.max(0, next - Date.now()), undefined, { signal: stop.signal });
        const decision = await this.ctx.cameras.decide(this.sn, this.id, this.startedAt);
        if (decision.kind === 'continue') {
          next = decision.deadline;
          continue;
        }
        this.decision = decision;
        this.log.info({ stop_reason: decision.reason }, 'recording stops');
        stop.abort();
      } catch (err) {
        if (stop.signal.aborted) return;
        this.log.warn({ err }, 'could not check the recording rules: trying again');
        next = Date.now() + this.ctx.slots.leaseMs / 3;
      }
    }
  }

  /** Renews the station slot and reports the file's size, every third of the lease. */
  private async renew(): Promise<void> {
    try {
      if (this.holdingSlot) {
        const holder = await this.ctx.slots.claim(this.station, this.id);
        if (holder) {
          this.holdingSlot = false;
          this.log.warn({ holder }, 'the station stream slot was taken over (its lease ran out)');
        }
      }
      const bytes = await this.ctx.files.size(this.id, 'video');
      if (bytes !== null) await this.ctx.store.update(this.id, { bytes }, { expectStatus: ['recording'] });
    } catch (err) {
      this.log.warn({ err }, 'could not renew the station slot or report the file size');
    }
  }

  private async blocked(holder: string): Promise<void> {
    const since = this.waitingForSlot ? undefined : Date.now();
    this.waitingForSlot = true;
    if (PREBUFFER_HOLDER.test(holder)) {
      this.log.info(
        { station_sn: this.station, holder },
        'a pre-motion buffer holds the station: asking for it',
      );
      await this.ctx.slots.want(this.station);
      if (since) await this.ctx.store.update(this.id, { waiting_for_slot_since: since });
      return;
    }
    this.log.info(
      { station_sn: this.station, holder },
      'station streams another camera: waiting for its stream slot',
    );
    await this.ctx.store.update(this.id, {
      slot_blocked_by: holder,
      ...(since ? { waiting_for_slot_since: since } : {}),
    });
    await this.ctx.sessions.setProblem(
      this.id,
      `station ${this.station} was streaming recording ${holder} (a station streams one camera at a time)`,
    );
  }

  /** Starts the livestream; resolves with its first chunks once video flows. */
  private async openStream(signal: AbortSignal): Promise<{ stream: Livestream; first: LivestreamChunk[] }> {
    const stream = await this.ctx.client.startLivestream(this.sn, {
      startTimeoutMs: this.ctx.config.LIVESTREAM_START_TIMEOUT_SECONDS * 1000,
    });
    this.stream = stream;
    if (signal.aborted) await stream.stop();
    const first: LivestreamChunk[] = [];
    for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
      first.push(chunk);
      if (chunk.kind === 'video') return { stream, first };
    }
    throw new LivestreamEndedError(this.sn, await stream.ended);
  }

  /** Feeds the stream into the segment until the stream ends; a broken segment is replaced. */
  private async pump(stream: Livestream, first: LivestreamChunk[]): Promise<LivestreamEnd> {
    let chunks = first;
    for (;;) {
      for (const chunk of chunks) this.writer?.push(chunk);
      if (this.writer?.broken && !(await this.replaceBrokenSegment())) {
        await stream.stop();
        break;
      }
      const next = await stream.read();
      if (!next) break;
      chunks = [next];
    }
    return stream.ended;
  }

  private async replaceBrokenSegment(): Promise<boolean> {
    const cause = this.writer!.broken!;
    await this.closeSegment();
    if (isDiskFull(cause)) return this.stopOnFullDisk(cause);
    this.brokenSegments += 1;
    if (this.brokenSegments > this.ctx.config.RETRY_ATTEMPTS) {
      await this.ctx.reporter.report('record_video', cause, {
        retryCount: this.brokenSegments - 1,
        context: { device_sn: this.sn, recording_id: this.id },
      });
      await this.ctx.sessions.setProblem(this.id, `ffmpeg kept failing: ${cause.message}`);
      this.forced = 'recording_failed';
      return false;
    }
    this.writer = await this.openSegment();
    return true;
  }

  /**
   * RECORDINGS_DIR is full: the recording ends now as failed with what reached the disk (a new
   * segment would fail the same way), the janitor is asked to free space at once, and a
   * system_error says why. The next recording starts normally once there is space again.
   */
  private async stopOnFullDisk(cause: Error): Promise<false> {
    const context = { device_sn: this.sn, recording_id: this.id, recordings_dir: this.ctx.files.dir };
    await requestDiskPressureRun(this.ctx).catch((err: unknown) => {
      this.log.warn({ err }, 'could not ask the janitor for a disk pressure run');
    });
    const error = new DiskFullError(
      `RECORDINGS_DIR is full: ffmpeg could not write (${cause.message}); the recording ends with what ` +
        "reached the disk, and the janitor's disk pressure cleanup was started",
    );
    await this.ctx.reporter.report('record_video', error, { context });
    await this.ctx.sessions.setProblem(this.id, error.message);
    this.forced = 'disk_full';
    return false;
  }

  private async openSegment(): Promise<SegmentWriter> {
    const { sessions, cameras, config } = this.ctx;
    const file = await this.nextSegmentFile();
    this.segment = await sessions.addSegment(this.id, path.basename(file));
    const learned = await cameras.learned(this.sn);
    const deviceAudio = this.ctx.client.state?.devices.get(this.sn)?.properties.audioRecording === true;
    const shutdownMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
    return new SegmentWriter({
      file,
      expectedCodec: learned.codec ?? 'h264',
      expectAudio: learned.audio ?? deviceAudio,
      endGraceMs: Math.min(10_000, shutdownMs / 3),
      interruptGraceMs: Math.min(5_000, shutdownMs / 6),
      logger: this.log,
      onFirstFrame: (frame) => this.onFirstFrame(frame),
    });
  }

  private onFirstFrame(frame: FirstFrame): void {
    const segment = this.segment;
    if (segment) {
      segment.first_frame_at = frame.at;
      this.track(this.ctx.sessions.updateSegment(this.id, segment));
    }
    if (this.videoStarted) return;
    this.videoStarted = true;
    this.log.info({ codec: frame.codec, audio: frame.audio }, 'video started');
    this.track(
      this.ctx.store.update(this.id, {
        video_started_at: frame.at,
        codec: frame.codec === 'h265' ? 'hevc' : 'h264',
        width: frame.width > 0 ? frame.width : null,
        height: frame.height > 0 ? frame.height : null,
        has_audio: frame.audio,
        waiting_for_slot_since: null,
      }),
    );
  }

  private async closeSegment(
    writer: { close(): Promise<SegmentResult> } | undefined = this.writer,
  ): Promise<void> {
    const segment = this.segment;
    if (writer === this.writer) this.writer = undefined;
    if (!writer) return;
    const result = await writer.close();
    if (result.exit && !result.exit.ok && result.framesWritten > 0)
      this.log.warn({ stderr: result.exit.stderr, reason: result.exit.reason }, 'ffmpeg did not end cleanly');
    if (result.framesWritten === 0 || !segment) return;
    segment.last_frame_at = result.lastFrameAt;
    await this.ctx.sessions.updateSegment(this.id, segment);
    await this.ctx.cameras.learn(this.sn, {
      codec: result.codec ?? undefined,
      audio: result.audio || result.audioDropped > 0,
    });
  }

  /** Index writes that need not hold up the stream; awaited before the session ends. */
  private track(write: Promise<unknown>): void {
    const tracked = write
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn({ err }, 'could not update the recording'))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}

/** Resolves (with undefined) when `signal` aborts. */
function untilAborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
