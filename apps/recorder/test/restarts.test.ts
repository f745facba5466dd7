import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { SystemErrorPayload } from '@eufy-relay/contracts';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { camera, decodeErrors, startHarness, type Harness } from './harness';

const CUT = 'T8113P0223000301';
const NO_RESUME = 'T8113P0223000302';
const NEVER = 'T8113P0223000303';

describe('livestreams that break', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('restarts', {
      scenario: { devices: [camera(CUT), camera(NO_RESUME), camera(NEVER)] },
    });
  });
  afterAll(() => h?.close());
  afterEach(() => h.sim.setCommandBehaviour('device.start_livestream', undefined));

  it('cut twice: one file, playable end to end, as long as the wall clock, two restarts counted', async () => {
    const stopMoving = h.keepMoving(CUT, 500);
    const { id } = await h.waitForRecording(CUT);
    await h.recordingWhen(id, (r) => r.video_started_at, 'video');
    for (const restarts of [1, 2]) {
      await new Promise((r) => setTimeout(r, 2000));
      expect(h.sim.cutLivestream(CUT)).toBe(true);
      await h.recordingWhen(id, (r) => r.restarts === restarts, `restart ${restarts}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    stopMoving();
    const done = await h.waitForFinish(id);
    expect(done).toMatchObject({ status: 'completed', video_status: 'completed', restarts: 2 });
    const timing = await h.expectWallClock(done);
    expect(decodeErrors(h.files.videoPath(id))).toBe('');
    // The restarts went into the same file: nothing else is left in the directory.
    expect((await readdir(h.dir)).filter((f) => f.includes(CUT)).sort()).toEqual([`${id}.jpg`, `${id}.mp4`]);
    process.stdout.write(`restarts: ${timing}\n`);
  });

  it('a camera that cannot resume: the recording ends failed, what was recorded is kept, system_error reported', async () => {
    const stopMoving = h.keepMoving(NO_RESUME, 500);
    try {
      const { id } = await h.waitForRecording(NO_RESUME);
      await h.recordingWhen(id, (r) => r.video_started_at, 'video');
      await new Promise((r) => setTimeout(r, 2000));
      h.sim.setCommandBehaviour('device.start_livestream', { mode: 'fail', errorCode: 'device_offline' });
      h.sim.cutLivestream(NO_RESUME);
      const done = await h.waitForFinish(id);
      expect(done).toMatchObject({
        status: 'failed',
        video_status: 'failed',
        stop_reason: 'livestream_failed',
      });
      expect(done.failure_reason).toMatch(/could not be resumed after 2 retries: .*device_offline/);
      const info = await h.probe(id);
      expect(info.durationSeconds).toBeGreaterThan(1);
      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      expect(await h.motionStopped(id)).toMatchObject({
        video_status: 'failed',
        reason: done.failure_reason,
      });
      const errors = (await h.webhooks('system_error')).map((w) => w.payload as SystemErrorPayload);
      expect(errors).toContainEqual(
        expect.objectContaining({
          operation: 'start_livestream',
          retry_count: 2,
          context: { device_sn: NO_RESUME, recording_id: id },
        }),
      );
    } finally {
      stopMoving();
    }
  });

  it('a camera that never streams: no_video with the reason, system_error reported, no file', async () => {
    h.sim.setCommandBehaviour('device.start_livestream', { mode: 'fail', errorCode: 'device_offline' });
    await h.motion(NEVER);
    const { id } = await h.waitForRecording(NEVER);
    const done = await h.waitForFinish(id);
    expect(done).toMatchObject({
      status: 'failed',
      video_status: 'no_video',
      bytes: 0,
      video_started_at: null,
    });
    expect(done.failure_reason).toMatch(/could not be started after 2 retries/);
    expect(await h.motionStopped(id)).toMatchObject({
      video_status: 'no_video',
      reason: done.failure_reason,
      duration_seconds: done.duration_seconds,
    });
    expect(existsSync(h.files.videoPath(id))).toBe(false);
    const errors = (await h.webhooks('system_error')).map((w) => w.payload as SystemErrorPayload);
    expect(errors.some((e) => e.context.recording_id === id)).toBe(true);
  });
});
