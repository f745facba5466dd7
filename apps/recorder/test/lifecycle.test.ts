import { existsSync } from 'node:fs';
import { utcTimestamp, type MotionDetectedPayload } from '@eufy-relay/contracts';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { probe } from '@eufy-relay/media';
import { waitFor } from '@eufy-relay/testing';
import { camera, startHarness, type Harness } from './harness';

const CAM = 'T8113P0223000101';
const WITH_AUDIO = 'T8113P0223000102';

describe('a recording from motion to motion timeout', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('lifecycle', {
      scenario: { devices: [camera(CAM), camera(WITH_AUDIO, undefined, true)] },
    });
  });
  afterAll(() => h?.close());

  it('sends motion_detected with the URL at once, records a file that plays while growing, stops after the timeout with one motion_stopped', async () => {
    const motionAt = Date.now();
    const stopMoving = h.keepMoving(CAM, 700);
    const detected = await waitFor('motion_detected', async () => (await h.webhooks('motion_detected'))[0], {
      timeoutMs: 10_000,
    });
    const recording = await h.waitForRecording(CAM);
    const id = recording.id;
    const payload = detected.payload as MotionDetectedPayload;
    expect(detected.webhookId).toBe(`motion_detected.${id}`);
    expect(payload).toEqual({
      event: 'motion_detected',
      device_sn: CAM,
      timestamp: utcTimestamp(recording.started_at),
      video_url: `https://relay.example.com/recordings/${id}.mp4`,
      video_status: 'recording',
    });
    const detectedAfterMs = detected.queuedAt - motionAt;

    // The file at that URL is readable while the recording goes on.
    const growing = await waitFor(
      'a readable growing file',
      async () => {
        if (!existsSync(h.files.videoPath(id))) return undefined;
        const info = await probe(h.files.videoPath(id)).catch(() => undefined);
        return info && info.durationSeconds >= 1.5 ? info : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(growing.videoCodec).toBe('h264');
    expect(growing.width).toBe(320);
    const during = await h.store.get(id);
    expect(during?.status).toBe('recording');
    // motion_detected went out before the first frame reached the file (not after ffmpeg started).
    expect(detected.queuedAt).toBeLessThanOrEqual(during!.video_started_at!);

    await new Promise((r) => setTimeout(r, 2500));
    stopMoving();
    const lastMotionAt = Date.now();
    const done = await h.waitForFinish(id, 30_000);
    expect(done).toMatchObject({
      status: 'completed',
      video_status: 'completed',
      stop_reason: 'motion_timeout',
      codec: 'h264',
      width: 320,
      height: 240,
      has_audio: false,
      restarts: 0,
      failure_reason: null,
    });
    // It stopped MOTION_TIMEOUT_SECONDS (3) after the last motion signal.
    expect(done.ended_at! - lastMotionAt).toBeGreaterThan(2000);
    expect(done.ended_at! - lastMotionAt).toBeLessThan(4500);

    const timing = await h.expectWallClock(done);
    const info = await h.probe(id);
    expect(done.bytes).toBe(info.sizeBytes);
    expect(existsSync(h.files.thumbnailPath(id))).toBe(true);

    const stopped = await waitFor(
      'the condition',
      () => h.webhooks('motion_stopped').then((w) => (w.length ? w : undefined)),
      { timeoutMs: 30_000 },
    );
    expect(stopped).toHaveLength(1);
    expect(stopped[0]!.webhookId).toBe(`motion_stopped.${id}`);
    expect(stopped[0]!.payload).toEqual({
      event: 'motion_stopped',
      device_sn: CAM,
      timestamp: utcTimestamp(done.ended_at!),
      video_url: `https://relay.example.com/recordings/${id}.mp4`,
      video_status: 'completed',
      duration_seconds: done.duration_seconds,
    });
    expect(await h.webhooks('motion_detected')).toHaveLength(1);

    // The devices registry shows the camera idle again.
    const device = await h.redis.hgetall(`${h.config.REDIS_PREFIX}:device:${CAM}`);
    expect(JSON.parse(device.recording_id!)).toBeNull();
    process.stdout.write(
      `lifecycle: motion_detected queued ${detectedAfterMs} ms after the motion signal; ${timing}\n`,
    );
  });

  it('muxes the AAC audio of a camera that sends it', async () => {
    await h.motion(WITH_AUDIO);
    const { id } = await h.waitForRecording(WITH_AUDIO);
    const done = await h.waitForFinish(id);
    expect(done).toMatchObject({ status: 'completed', has_audio: true, codec: 'h264' });
    expect(await h.probe(id)).toMatchObject({ videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' });
  });
});
