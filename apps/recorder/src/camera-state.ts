import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

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

// KEYS[1] camera. ARGV: 1 candidate id, 2 its start (ms), 3 now, 4 motion time, 5 max recording
// (ms), 6 grace after the cap after which an unstopped recording counts as abandoned (ms).
const MOTION = `
local cam = KEYS[1]
local now = tonumber(ARGV[3])
local current = redis.call('HGET', cam, 'recording_id')
if current then
  local started = tonumber(redis.call('HGET', cam, 'started_at'))
  if now < started + tonumber(ARGV[5]) + tonumber(ARGV[6]) then
    local last = tonumber(redis.call('HGET', cam, 'last_motion_at') or '0')
    if tonumber(ARGV[4]) > last then redis.call('HSET', cam, 'last_motion_at', ARGV[4]) end
    return {'extended', current, tostring(started), redis.call('HGET', cam, 'setup') or '0'}
  end
end
local snoozed = tonumber(redis.call('HGET', cam, 'snoozed_until') or '0')
if now < snoozed then return {'snoozed', tostring(snoozed)} end
local second = math.floor(tonumber(ARGV[2]) / 1000)
local last_second = tonumber(redis.call('HGET', cam, 'last_start_second') or '-1')
if second <= last_second then return {'bump', tostring(last_second + 1)} end
redis.call('HSET', cam, 'recording_id', ARGV[1], 'started_at', ARGV[2], 'last_motion_at', ARGV[4],
  'last_start_second', tostring(second), 'setup', '0')
redis.call('HDEL', cam, 'snoozed_until')
return {'started', ARGV[1], ARGV[2], current or ''}
`;

// KEYS[1] camera, KEYS[2] session. ARGV: 1 id, 2 now, 3 motion timeout (ms), 4 max recording (ms),
// 5 snooze (ms), 6 forced stop reason ('' for none), 7 the recording's start (ms).
const DECIDE = `
if redis.call('HGET', KEYS[2], 'phase') == 'finishing' then
  return {'stop', redis.call('HGET', KEYS[2], 'stop_reason'), redis.call('HGET', KEYS[2], 'ended_at')}
end
local now = tonumber(ARGV[2])
local cap = tonumber(ARGV[7]) + tonumber(ARGV[4])
local reason, ended
if redis.call('HGET', KEYS[1], 'recording_id') ~= ARGV[1] then
  reason = 'abandoned'
  ended = math.min(now, cap)
else
  local quiet = tonumber(redis.call('HGET', KEYS[1], 'last_motion_at')) + tonumber(ARGV[3])
  if ARGV[6] ~= '' then
    reason = ARGV[6]
    ended = now
  elseif now >= cap then
    reason = 'max_duration'
    ended = cap
  elseif now >= quiet then
    reason = 'motion_timeout'
    ended = quiet
  else
    return {'continue', tostring(math.min(cap, quiet))}
  end
  redis.call('HDEL', KEYS[1], 'recording_id', 'started_at', 'last_motion_at', 'setup')
  if reason == 'max_duration' and tonumber(ARGV[5]) > 0 then
    redis.call('HSET', KEYS[1], 'snoozed_until', tostring(ended + tonumber(ARGV[5])))
  end
end
redis.call('HSET', KEYS[2], 'phase', 'finishing', 'stop_reason', reason, 'ended_at', tostring(ended))
return {'stop', reason, tostring(ended)}
`;

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

export function recordingRules(
  config: Pick<
    Config,
    'MOTION_TIMEOUT_SECONDS' | 'MAX_RECORDING_SECONDS' | 'SNOOZE_SECONDS' | 'RECORDING_TAKEOVER_SECONDS'
  >,
): RecordingRules {
  return {
    motionTimeoutMs: config.MOTION_TIMEOUT_SECONDS * 1000,
    maxRecordingMs: config.MAX_RECORDING_SECONDS * 1000,
    snoozeMs: config.SNOOZE_SECONDS * 1000,
    // A live session stops at the cap; one whose recorder died is taken over within two takeover
    // intervals. Past four, nobody runs it: a new recording may replace it.
    abandonGraceMs: config.RECORDING_TAKEOVER_SECONDS * 4000,
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
    private readonly rules: RecordingRules,
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
    const reply = (await this.redis.eval(
      MOTION,
      1,
      this.cameraKey(motion.deviceSn),
      motion.candidateId,
      motion.startedAt,
      motion.now ?? Date.now(),
      motion.motionAt,
      this.rules.maxRecordingMs,
      this.rules.abandonGraceMs,
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
    await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'recording_id') == ARGV[1] then redis.call('HSET', KEYS[1], 'setup', '1') end`,
      1,
      this.cameraKey(sn),
      recordingId,
    );
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
    const reply = (await this.redis.eval(
      DECIDE,
      2,
      this.cameraKey(sn),
      sessionKey(this.config, recordingId),
      recordingId,
      now,
      this.rules.motionTimeoutMs,
      this.rules.maxRecordingMs,
      this.rules.snoozeMs,
      force ?? '',
      startedAt,
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
