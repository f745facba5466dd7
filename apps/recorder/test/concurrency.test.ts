import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import { camera, ffmpegProcessesWriting, startHarness, type Harness } from './harness';

const CAMERAS = [1, 2, 3, 4, 5].map((i) => `T8113P022300050${i}`);
const RACED = 'T8113P0223000510';

describe('many cameras, several recorders', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    // Two recorder roles on one Redis: they compete for every motion signal and every session.
    h = await startHarness('concurrency', {
      scenario: { devices: [...CAMERAS, RACED].map((sn) => camera(sn)) },
      env: { MOTION_TIMEOUT_SECONDS: '2' },
      recorders: 2,
    });
  });
  afterAll(() => h?.close());

  it('5 cameras on 5 stations in motion at once give 5 valid files', async () => {
    await Promise.all(CAMERAS.map((sn) => h.motion(sn)));
    const stops = CAMERAS.map((sn) => h.keepMoving(sn, 500));
    await new Promise((r) => setTimeout(r, 3000));
    stops.forEach((stop) => stop());
    const recordings = await Promise.all(CAMERAS.map((sn) => h.waitForRecording(sn)));
    const done = await Promise.all(recordings.map((r) => h.waitForFinish(r.id)));
    for (const recording of done) {
      expect(recording).toMatchObject({ status: 'completed', video_status: 'completed', restarts: 0 });
      expect(await h.probe(recording.id)).toMatchObject({ videoCodec: 'h264', width: 320, height: 240 });
      await h.expectWallClock(recording);
    }
    expect(await h.recordings()).toHaveLength(5);
    expect(await h.webhooks('motion_detected')).toHaveLength(5);
    expect(await h.webhooks('motion_stopped')).toHaveLength(5);
  });

  it('two recorders racing on one camera make one recording', async () => {
    // 20 signals at the same moment, handled by both recorders' motion workers in parallel.
    await Promise.all(Array.from({ length: 20 }, () => h.motion(RACED)));
    const recording = await h.waitForRecording(RACED);
    const done = await h.waitForFinish(recording.id);
    expect(done.status).toBe('completed');
    expect((await h.recordings(RACED)).map((r) => r.id)).toEqual([recording.id]);
    const webhooks = (await h.webhooks()).filter((w) => w.webhookId.endsWith(recording.id));
    expect(webhooks.map((w) => w.webhookId).sort()).toEqual([
      `motion_detected.${recording.id}`,
      `motion_stopped.${recording.id}`,
    ]);
    await h.stopRecorders();
    expect(await ffmpegProcessesWriting(h.dir)).toEqual([]);
  });
});

describe('RECORDER_CONCURRENCY', () => {
  let h: Harness;
  const cams = CAMERAS.slice(0, 3);

  beforeAll(async () => {
    h = await startHarness('bound', {
      scenario: { devices: cams.map((sn) => camera(sn)) },
      env: { RECORDER_CONCURRENCY: '2', MOTION_TIMEOUT_SECONDS: '2' },
    });
  });
  afterAll(() => h?.close());

  it('bounds the recordings one recorder runs at once; the others wait for a free session', async () => {
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, (await ffmpegProcessesWriting(h.dir)).length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const stops = cams.map((sn) => h.keepMoving(sn, 500));
    const recordings = await Promise.all(cams.map((sn) => h.waitForRecording(sn)));
    // Every camera got its recording and motion_detected at once, even the one that waits.
    expect(await h.webhooks('motion_detected')).toHaveLength(3);
    const withVideo = async () =>
      (await Promise.all(recordings.map((r) => h.store.get(r.id)))).filter((r) => r?.video_started_at);
    await waitFor('two recordings with video', async () => (await withVideo()).length === 2, {
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const [first, second] = await withVideo();
    expect(await withVideo()).toHaveLength(2);
    const waiting = recordings.find((r) => r.id !== first!.id && r.id !== second!.id)!;

    // The first two cameras calm down; the third keeps moving and gets its turn.
    stops[cams.indexOf(first!.device_sn)]!();
    stops[cams.indexOf(second!.device_sn)]!();
    const ended = await Promise.all([h.waitForFinish(first!.id), h.waitForFinish(second!.id)]);
    const third = await h.recordingWhen(
      waiting.id,
      (r) => r.video_started_at,
      'video of the third recording',
    );
    expect(third.video_started_at!).toBeGreaterThanOrEqual(Math.min(...ended.map((r) => r.ended_at!)));
    stops.forEach((stop) => stop());
    const done = await h.waitForFinish(waiting.id);
    sampling = false;
    await sampler;
    expect(most).toBeLessThanOrEqual(2);
    expect([...ended, done].every((r) => r.video_status === 'completed')).toBe(true);
  });

  it('a recording whose motion ended before a session was free ends without video, saying why', async () => {
    const stops = cams.slice(0, 2).map((sn) => h.keepMoving(sn, 500));
    try {
      const busy = await Promise.all(
        cams
          .slice(0, 2)
          .map((sn) =>
            waitFor(
              'the condition',
              async () =>
                (await h.recordings(sn)).find((r) => r.status === 'recording' && r.video_started_at),
              { timeoutMs: 30_000 },
            ),
          ),
      );
      await h.motion(cams[2]!);
      const late = await waitFor(
        'the condition',
        async () => (await h.recordings(cams[2]!)).find((r) => r.status === 'recording'),
        { timeoutMs: 30_000 },
      );
      stops.forEach((stop) => stop());
      const done = await h.waitForFinish(late.id);
      expect(done).toMatchObject({
        status: 'failed',
        video_status: 'no_video',
        stop_reason: 'motion_timeout',
      });
      expect(done.failure_reason).toMatch(/^no recorder was free to record it before its motion ended/);
      await Promise.all(busy.map((r) => h.waitForFinish(r.id)));
    } finally {
      stops.forEach((stop) => stop());
    }
  });
});
