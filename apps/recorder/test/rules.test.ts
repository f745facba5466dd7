import { recordingId } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { createRedis, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { CameraStates, recordingRules, sessionKey } from '../src/camera-state';
import { StationSlots } from '../src/station-slots';

const config = testConfig(`eufy-relay-test-recorder-rules-${process.pid}`, {
  MOTION_TIMEOUT_SECONDS: '60',
  MAX_RECORDING_SECONDS: '900',
  SNOOZE_SECONDS: '3600',
  RECORDING_TAKEOVER_SECONDS: '15',
});
const redis = createRedis(config, 'worker');
const subscriber = createRedis(config, 'worker');
const cameras = new CameraStates(redis, config, recordingRules(config));
const SN = 'T8113P0223000701';
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const id = (at: number) => recordingId(SN, at);

/**
 * A motion signal of SN arriving at `at` about motion at `at`, proposing a recording that starts at
 * `at`; `differs` names what is otherwise (a late signal, a candidate of another moment).
 */
function motion(at: number, differs: { candidateAt?: number; motionAt?: number } = {}) {
  const candidateAt = differs.candidateAt ?? at;
  return cameras.motion({
    deviceSn: SN,
    candidateId: id(candidateAt),
    startedAt: candidateAt,
    motionAt: differs.motionAt ?? at,
    now: at,
  });
}

afterEach(async () => {
  const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
});
afterAll(async () => {
  await redis.quit();
  await subscriber.quit();
});

describe('motion rules of one camera', () => {
  it('starts a recording on motion while idle, then extends it: last motion only moves forward', async () => {
    expect(await motion(T0)).toEqual({
      kind: 'started',
      recordingId: id(T0),
      startedAt: T0,
      replaced: null,
    });
    expect(await motion(T0 + 5000)).toEqual({
      kind: 'extended',
      recordingId: id(T0),
      startedAt: T0,
      setup: false,
    });
    // A late signal from the past does not move last motion back.
    await motion(T0 + 6000, { motionAt: T0 + 1000 });
    expect(await cameras.decide(SN, id(T0), T0, undefined, T0 + 6000)).toEqual({
      kind: 'continue',
      deadline: T0 + 5000 + 60_000,
    });
    await cameras.markSetup(SN, id(T0));
    expect(await motion(T0 + 7000)).toMatchObject({
      kind: 'extended',
      setup: true,
    });
  });

  it('stops after the motion timeout, at the motion deadline; the camera is idle again', async () => {
    await motion(T0);
    await motion(T0 + 10_000, { candidateAt: T0 });
    expect(await cameras.decide(SN, id(T0), T0, undefined, T0 + 69_999)).toEqual({
      kind: 'continue',
      deadline: T0 + 70_000,
    });
    expect(await cameras.decide(SN, id(T0), T0, undefined, T0 + 71_000)).toEqual({
      kind: 'stop',
      reason: 'motion_timeout',
      endedAt: T0 + 70_000,
    });
    expect(await cameras.current(SN)).toEqual({ recordingId: null, snoozedUntil: null });
    // Deciding again (a retried or taken-over session) gives the same stop.
    expect(await cameras.decide(SN, id(T0), T0, undefined, T0 + 99_000)).toEqual({
      kind: 'stop',
      reason: 'motion_timeout',
      endedAt: T0 + 70_000,
    });
    expect(await redis.hget(sessionKey(config, id(T0)), 'phase')).toBe('finishing');
  });

  it('stops at the cap and snoozes: motion inside the snooze starts nothing, after it a new recording', async () => {
    await motion(T0);
    for (let t = T0; t <= T0 + 900_000; t += 30_000) await motion(t);
    expect(await cameras.decide(SN, id(T0), T0, undefined, T0 + 900_100)).toEqual({
      kind: 'stop',
      reason: 'max_duration',
      endedAt: T0 + 900_000,
    });
    const until = T0 + 900_000 + 3_600_000;
    expect(await cameras.current(SN)).toEqual({ recordingId: null, snoozedUntil: until });
    expect(await motion(until - 1)).toEqual({
      kind: 'snoozed',
      until,
    });
    expect(await motion(until)).toMatchObject({
      kind: 'started',
      recordingId: id(until),
    });
    expect((await cameras.current(SN)).snoozedUntil).toBeNull();
  });

  it('a new recording never reuses the second of the previous one (ids have 1 s precision)', async () => {
    await motion(T0);
    await cameras.decide(SN, id(T0), T0, 'livestream_failed', T0 + 300);
    expect(await motion(T0 + 500)).toEqual({
      kind: 'bump',
      second: T0 / 1000 + 1,
    });
    expect(await motion(T0 + 500, { candidateAt: T0 + 1000 })).toMatchObject({
      kind: 'started',
      recordingId: id(T0 + 1000),
    });
  });

  it('a forced stop ends it now; a recording never stopped past its cap is replaced and then ends as abandoned', async () => {
    await motion(T0);
    expect(await cameras.decide(SN, id(T0), T0, 'livestream_failed', T0 + 2000)).toEqual({
      kind: 'stop',
      reason: 'livestream_failed',
      endedAt: T0 + 2000,
    });

    const t1 = T0 + 10_000;
    await motion(t1);
    // Cap 900 s + 4 × takeover 15 s later, nobody stopped it: its recorders are gone.
    const late = t1 + 900_000 + 60_000;
    expect(await motion(late - 1000)).toMatchObject({
      kind: 'extended',
    });
    expect(await motion(late)).toEqual({
      kind: 'started',
      recordingId: id(late),
      startedAt: late,
      replaced: id(t1),
    });
    expect(await cameras.decide(SN, id(t1), t1, undefined, late + 5000)).toEqual({
      kind: 'stop',
      reason: 'abandoned',
      endedAt: t1 + 900_000,
    });
    expect((await cameras.current(SN)).recordingId).toBe(id(late));
  });

  it('remembers what the camera streamed', async () => {
    expect(await cameras.learned(SN)).toEqual({ codec: null, audio: null });
    await cameras.learn(SN, { codec: 'h265', audio: true });
    expect(await cameras.learned(SN)).toEqual({ codec: 'h265', audio: true });
  });
});

describe('station stream slots', () => {
  const logger = createLogger({ level: 'silent' });
  const slots = new StationSlots(redis, subscriber, config, 400, logger);
  const STATION = 'T8010P2321000701';

  beforeAll(() => redisReady(subscriber));

  it('one recording holds a station; the holder renews it, others are told who holds it', async () => {
    expect(await slots.claim(STATION, 'A_20261127_120000')).toBeNull();
    expect(await slots.claim(STATION, 'A_20261127_120000')).toBeNull();
    expect(await slots.claim(STATION, 'B_20261127_120000')).toBe('A_20261127_120000');
    await slots.release(STATION, 'B_20261127_120000'); // not the holder: nothing happens
    expect(await slots.holder(STATION)).toBe('A_20261127_120000');
  });

  it('a waiter gets the slot as soon as it is released (published), not at its next look', async () => {
    const long = new StationSlots(redis, subscriber, config, 60_000, logger);
    await long.claim(STATION, 'A_20261127_120000');
    const blockedBy: string[] = [];
    const waiting = long.acquire(STATION, 'B_20261127_120000', new AbortController().signal, (h) => {
      blockedBy.push(h);
    });
    await new Promise((r) => setTimeout(r, 200));
    const releasedAt = Date.now();
    await long.release(STATION, 'A_20261127_120000');
    expect(await waiting).toBe(true);
    expect(Date.now() - releasedAt).toBeLessThan(5000); // hang guard: a look every 15 s would fail it
    expect(blockedBy).toEqual(['A_20261127_120000']);
    expect(await long.holder(STATION)).toBe('B_20261127_120000');
  });

  it("a dead holder's slot frees itself when its lease runs out; a waiter can be aborted", async () => {
    await slots.claim(STATION, 'A_20261127_120000');
    expect(
      await slots.acquire(STATION, 'B_20261127_120000', AbortSignal.timeout(5000), () => undefined),
    ).toBe(true);
    const abort = new AbortController();
    const waiting = slots.acquire(STATION, 'C_20261127_120000', abort.signal, () => undefined);
    abort.abort();
    expect(await waiting).toBe(false);
  });
});
