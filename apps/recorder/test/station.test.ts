import { existsSync } from 'node:fs';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import { camera, startHarness, type Harness } from './harness';

const HOMEBASE = 'T8010P2321000401';
const FRONT = 'T8113P0223000401';
const BACK = 'T8113P0223000402';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two cameras of one station (one P2P stream at a time)', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('station', {
      scenario: {
        stations: [{ serialNumber: HOMEBASE }],
        devices: [camera(FRONT, HOMEBASE), camera(BACK, HOMEBASE)],
      },
      env: { MOTION_TIMEOUT_SECONDS: '2' },
    });
  });
  afterAll(() => h?.close());

  it('both recordings exist; the second waits for the slot, its video starts when the first ends, and the index says why', async () => {
    const stopFront = h.keepMoving(FRONT, 400);
    const front = await h.waitForRecording(FRONT);
    await h.recordingWhen(front.id, (r) => r.video_started_at, 'front video');
    const stopBack = h.keepMoving(BACK, 400);
    try {
      const back = await h.waitForRecording(BACK);
      // motion_detected for the waiting camera goes out at once, with its URL.
      await waitFor(
        'motion_detected of the second camera',
        async () =>
          (await h.webhooks('motion_detected')).some((w) => w.webhookId === `motion_detected.${back.id}`),
        { timeoutMs: 5000 },
      );
      const waiting = await h.recordingWhen(
        back.id,
        (r) => r.waiting_for_slot_since,
        'the second recording waiting for the slot',
      );
      expect(waiting).toMatchObject({
        station_sn: HOMEBASE,
        slot_blocked_by: front.id,
        video_started_at: null,
      });

      // The front camera streams undisturbed while the back one waits.
      await wait(2000);
      expect((await h.store.get(front.id))?.restarts).toBe(0);
      stopFront();
      const frontDone = await h.waitForFinish(front.id);
      expect(frontDone).toMatchObject({ status: 'completed', stop_reason: 'motion_timeout', restarts: 0 });

      const backVideo = await h.recordingWhen(
        back.id,
        (r) => r.video_started_at,
        'video of the second camera',
      );
      expect(backVideo.video_started_at!).toBeGreaterThanOrEqual(frontDone.ended_at!);
      expect(backVideo).toMatchObject({ waiting_for_slot_since: null, slot_blocked_by: front.id });
      const handoverMs = backVideo.video_started_at! - frontDone.ended_at!;

      await wait(2000);
      stopBack();
      const backDone = await h.waitForFinish(back.id);
      expect(backDone).toMatchObject({
        status: 'completed',
        video_status: 'completed',
        station_sn: HOMEBASE,
        slot_blocked_by: front.id,
      });
      // The back camera's start-up includes its wait for the slot.
      for (const done of [frontDone, backDone]) await h.expectWallClock(done);
      process.stdout.write(
        `station: the second camera's video started ${handoverMs} ms after the first ended\n`,
      );
    } finally {
      stopFront();
      stopBack();
    }
  });

  it('a camera whose motion ends while the station streams another ends without video, saying why', async () => {
    const stopFront = h.keepMoving(FRONT, 400);
    try {
      const front = await waitFor(
        'a new front recording',
        async () => (await h.recordings(FRONT)).find((r) => r.status === 'recording'),
        { timeoutMs: 10_000 },
      );
      await h.recordingWhen(front.id, (r) => r.video_started_at, 'front video');
      await h.motion(BACK);
      const back = await waitFor(
        'a new back recording',
        async () => (await h.recordings(BACK)).find((r) => r.status === 'recording'),
        { timeoutMs: 10_000 },
      );
      const done = await h.waitForFinish(back.id);
      expect(done).toMatchObject({
        status: 'failed',
        video_status: 'no_video',
        stop_reason: 'motion_timeout',
        slot_blocked_by: front.id,
        bytes: 0,
      });
      expect(done.failure_reason).toBe(
        `station ${HOMEBASE} was streaming recording ${front.id} (a station streams one camera at a time)`,
      );
      expect(await h.motionStopped(back.id)).toMatchObject({
        video_status: 'no_video',
        reason: done.failure_reason,
      });
      expect(existsSync(h.files.videoPath(back.id))).toBe(false);
      expect((await h.store.get(front.id))?.status).toBe('recording');
    } finally {
      stopFront();
    }
  });
});
