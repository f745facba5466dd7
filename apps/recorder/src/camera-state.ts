import type { Redis } from 'ioredis';
import { cameraSettings, type CameraConfigKeys, type Config } from '@eufy-relay/config';
import { RedisScript, redisKey } from '@eufy-relay/runtime';

/**
 * The recording rules of one camera, applied atomically in Redis so that any number of recorders
 * agree: at most one recording per camera, motion extends it, a capped recording snoozes the camera.
 *
 * `{prefix}:recorder:camera:{sn}` (hash):
 *   recording_id, started_at, last_motion_at  the recording in progress (absent: idle)
 *   setup              '1' once its index entry, motion_detected webhook and session job exist
 *   last_start_second  UTC second of the latest start: a new id must be later (ids have 1 s precision)
 *   snoozed_until      ms; motion before it starts nothing
 *   codec, audio       what the camera's last stream carried (h264/h265, '1'/'0'): how to start ffmpeg
 * `{prefix}:recorder:session:{id}` (hash, see session.ts): its `phase`, `stop_reason` and `ended_at`
 * are written here when the stop is decided.
 */

const MOTION = RedisScript.load(__dirname, 'camera-motion-1.lua');
const DECIDE = RedisScript.load(__dirname, 'camera-decide-2.lua');
const MARK_SETUP = RedisScript.load(__dirname, 'camera-setup-1.lua');

export type MotionResult =
  /** A new recording: create it, send motion_detected, queue its session. */
  | { kind: 'started'; recordingId: string; startedAt: number; replaced: string | null }
  /** The camera records already; last motion was moved on. `setup`: its start was completed. */
  | { kind: 'extended'; recordingId: string; startedAt: number; setup: boolean }
  | { kind: 'snoozed'; until: number }
  /** The candidate's second is not later than the previous start: try again from this second. */
  | { kind: 'bump'; second: number };

/** Why a recording stops. */
export type StopReason =
  | 'motion_timeout'
  | 'max_duration'
  /** The camera could not be (re)started within RETRY_ATTEMPTS retries. */
  | 'livestream_failed'
  /** ffmpeg kept failing, or the session failed for good. */
  | 'recording_failed'
  /** The camera moved on to a newer recording while this one was not running (its recorders were gone). */
  | 'abandoned';

export type Decision =
  { kind: 'continue'; deadline: number } | { kind: 'stop'; reason: StopReason; endedAt: number };

export interface LearnedStream {
  codec: 'h264' | 'h265' | null;
  audio: boolean | null;
}

export interface RecordingRules {
  motionTimeoutMs: number;
  maxRecordingMs: number;
  snoozeMs: number;
  /** After the cap, how long an unstopped recording is still trusted to be stopped by its session. */
  abandonGraceMs: number;
}

/** The rules of each camera: the global settings, or the camera's own (`cameras:` in the config). */
export type RulesOf = (sn: string) => RecordingRules;

export function recordingRules(
  config: Pick<Config, CameraConfigKeys | 'RECORDING_TAKEOVER_SECONDS'>,
): RulesOf {
  return (sn) => {
    const camera = cameraSettings(config, sn);
    return {
      motionTimeoutMs: camera.motion_timeout_seconds * 1000,
      maxRecordingMs: camera.max_recording_seconds * 1000,
      snoozeMs: camera.snooze_seconds * 1000,
      // A live session stops at the cap; one whose recorder died is taken over within two takeover
      // intervals. Past four, nobody runs it: a new recording may replace it.
      abandonGraceMs: config.RECORDING_TAKEOVER_SECONDS * 4000,
    };
  };
}

/** The hash of one recording's session (phase, segments, problem…); see session-records.ts. */
export function sessionKey(config: Pick<Config, 'REDIS_PREFIX'>, recordingId: string): string {
  return redisKey(config, 'recorder', 'session', recordingId);
}

export class CameraStates {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX'>,
    private readonly rules: RulesOf,
  ) {}

  cameraKey(sn: string): string {
    return redisKey(this.config, 'recorder', 'camera', sn);
  }

  /**
   * Applies one motion signal, seen at `motionAt`, to the camera `deviceSn`: a recording it starts is
   * `candidateId`, starting at `startedAt`. Times are epoch ms; `now` defaults to the clock.
   */
  async motion(motion: {
    deviceSn: string;
    candidateId: string;
    startedAt: number;
    motionAt: number;
    now?: number;
  }): Promise<MotionResult> {
    const rules = this.rules(motion.deviceSn);
    const reply = (await MOTION.run(
      this.redis,
      [this.cameraKey(motion.deviceSn)],
      [
        motion.candidateId,
        motion.startedAt,
        motion.now ?? Date.now(),
        motion.motionAt,
        rules.maxRecordingMs,
        rules.abandonGraceMs,
      ],
    )) as string[];
    switch (reply[0]) {
      case 'started':
        return {
          kind: 'started',
          recordingId: reply[1]!,
          startedAt: Number(reply[2]),
          replaced: reply[3] || null,
        };
      case 'extended':
        return {
          kind: 'extended',
          recordingId: reply[1]!,
          startedAt: Number(reply[2]),
          setup: reply[3] === '1',
        };
      case 'snoozed':
        return { kind: 'snoozed', until: Number(reply[1]) };
      case 'bump':
        return { kind: 'bump', second: Number(reply[1]) };
      default:
        throw new Error(`unexpected reply from the motion script: ${JSON.stringify(reply)}`);
    }
  }

  /** The recording's start is complete (index entry, webhook, session job). */
  async markSetup(sn: string, recordingId: string): Promise<void> {
    // Only if it is still this camera's recording: a stopped one must not be marked again.
    await MARK_SETUP.run(this.redis, [this.cameraKey(sn)], [recordingId]);
  }

  /**
   * Continue until the returned deadline, or stop now (`force` stops regardless of motion). A stop is
   * decided once: the camera is free for a new recording from that moment (snoozed after the cap),
   * and deciding again returns the same stop.
   */
  async decide(
    sn: string,
    recordingId: string,
    startedAt: number,
    force?: StopReason,
    now = Date.now(),
  ): Promise<Decision> {
    const rules = this.rules(sn);
    const reply = (await DECIDE.run(
      this.redis,
      [this.cameraKey(sn), sessionKey(this.config, recordingId)],
      [recordingId, now, rules.motionTimeoutMs, rules.maxRecordingMs, rules.snoozeMs, force ?? '', startedAt],
    )) as string[];
    if (reply[0] === 'continue') return { kind: 'continue', deadline: Number(reply[1]) };
    return { kind: 'stop', reason: reply[1] as StopReason, endedAt: Number(reply[2]) };
  }

  /** The camera's recording in progress and snooze, for the devices registry. */
  async current(sn: string): Promise<{ recordingId: string | null; snoozedUntil: number | null }> {
    const [recordingId, snoozedUntil] = await this.redis.hmget(
      this.cameraKey(sn),
      'recording_id',
      'snoozed_until',
    );
    return { recordingId: recordingId ?? null, snoozedUntil: snoozedUntil ? Number(snoozedUntil) : null };
  }

  async learned(sn: string): Promise<LearnedStream> {
    const [codec, audio] = await this.redis.hmget(this.cameraKey(sn), 'codec', 'audio');
    return {
      codec: codec === 'h264' || codec === 'h265' ? codec : null,
      audio: audio === null ? null : audio === '1',
    };
  }

  async learn(sn: string, stream: { codec?: 'h264' | 'h265'; audio?: boolean }): Promise<void> {
    const fields: string[] = [];
    if (stream.codec) fields.push('codec', stream.codec);
    if (stream.audio !== undefined) fields.push('audio', stream.audio ? '1' : '0');
    if (fields.length) await this.redis.hset(this.cameraKey(sn), ...fields);
  }
}
