import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import { camera, startHarness, type Harness } from './harness';

const CAM = 'T8113P0223000201';

describe('continuous motion', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('cap', {
      scenario: { devices: [camera(CAM)] },
      env: { MAX_RECORDING_SECONDS: '5', SNOOZE_SECONDS: '4', MOTION_TIMEOUT_SECONDS: '2' },
    });
  });
  afterAll(() => h?.close());

  it('stops at the cap, snoozes the camera (motion then starts nothing), and records again after the snooze', async () => {
    const stopMoving = h.keepMoving(CAM, 300);
    try {
      const first = await h.waitForRecording(CAM);
      const capped = await h.waitForFinish(first.id, 30_000);
      expect(capped).toMatchObject({ status: 'completed', stop_reason: 'max_duration', duration_seconds: 5 });
      expect(capped.ended_at! - capped.started_at).toBe(5000);
      await h.expectWallClock(capped);
      expect((await h.motionStopped(first.id))?.duration_seconds).toBe(5);

      // Snoozed for SNOOZE_SECONDS from the stop; the registry shows it.
      const snoozedUntil = capped.ended_at! + 4000;
      const device = await h.redis.hgetall(`${h.config.REDIS_PREFIX}:device:${CAM}`);
      expect(JSON.parse(device.snoozed_until!)).toBe(snoozedUntil);

      // Motion goes on all through the snooze: nothing starts, nothing is sent.
      await waitFor('the end of the snooze', () => Date.now() >= snoozedUntil - 300, { timeoutMs: 10_000 });
      expect((await h.recordings(CAM)).map((r) => r.id)).toEqual([first.id]);
      expect((await h.webhooks()).map((w) => w.webhookId)).toEqual([
        `motion_detected.${first.id}`,
        `motion_stopped.${first.id}`,
      ]);

      // The first motion after it starts a new recording.
      const second = await waitFor(
        'a recording after the snooze',
        async () => (await h.recordings(CAM)).find((r) => r.id !== first.id),
        { timeoutMs: 10_000 },
      );
      expect(second.started_at).toBeGreaterThanOrEqual(snoozedUntil);
      stopMoving();
      const done = await h.waitForFinish(second.id, 30_000);
      expect(done).toMatchObject({ status: 'completed', stop_reason: 'motion_timeout' });
      expect((await h.webhooks('motion_detected')).map((w) => w.webhookId)).toEqual([
        `motion_detected.${first.id}`,
        `motion_detected.${second.id}`,
      ]);
    } finally {
      stopMoving();
    }
  });
});
