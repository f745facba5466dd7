import { readdir } from 'node:fs/promises';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import { camera, decodeErrors, ffmpegProcessesWriting, startHarness, type Harness } from './harness';

const KILLED = 'T8113P0223000601';
const STOPPED = 'T8113P0223000602';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a recording outlives its recorder', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('takeover', {
      scenario: { devices: [camera(KILLED), camera(STOPPED)] },
      env: { RECORDING_TAKEOVER_SECONDS: '2', MOTION_TIMEOUT_SECONDS: '2' },
      recorders: 0,
    });
  });
  afterAll(() => h?.close());

  it('SIGKILL mid-recording: a second recorder completes the same recording, one playable file, no duplicate webhooks', async () => {
    const child = h.spawnRecorder();
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitFor('the recorder process to start', () => output.includes('"msg":"recording on motion"'), {
      timeoutMs: 20_000,
    });
    const stopMoving = h.keepMoving(KILLED, 500);
    try {
      const { id } = await h.waitForRecording(KILLED);
      await h.recordingWhen(id, (r) => r.video_started_at, 'video');
      await wait(1200);
      const doomed = await ffmpegProcessesWriting(h.dir);
      expect(doomed).toHaveLength(1);

      // The second recorder is up; the session job is the first one's.
      await h.startRecorder();
      child.kill('SIGKILL');
      const killedAt = Date.now();
      // The dead recorder's ffmpeg reads the end of its input, finishes the file and exits: no orphan.
      await waitFor(
        "the killed recorder's ffmpeg to exit",
        async () => !(await ffmpegProcessesWriting(h.dir)).some((pid) => doomed.includes(pid)),
        { timeoutMs: 15_000 },
      );
      // Another recorder takes the session over (BullMQ stalled-job recovery) and writes a second segment.
      const resumedAt = await waitFor(
        'video from the second recorder',
        async () => {
          const segment = (await h.session(id))['segment:2'];
          return segment
            ? (JSON.parse(segment) as { first_frame_at: number | null }).first_frame_at
            : undefined;
        },
        { timeoutMs: 30_000 },
      );
      await wait(1200);
      stopMoving();
      const done = await h.waitForFinish(id);
      expect(done).toMatchObject({
        status: 'completed',
        video_status: 'completed',
        stop_reason: 'motion_timeout',
      });
      expect(done.restarts).toBeGreaterThanOrEqual(1);

      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      // The gap while no recorder ran is kept: the file is as long as the wall clock it covers.
      const timing = await h.expectWallClock(done);
      expect((await readdir(h.dir)).filter((f) => f.includes(id)).sort()).toEqual([`${id}.jpg`, `${id}.mp4`]);
      expect((await h.webhooks()).map((w) => w.webhookId).sort()).toEqual([
        `motion_detected.${id}`,
        `motion_stopped.${id}`,
      ]);
      expect((await h.motionStopped(id))?.duration_seconds).toBe(done.duration_seconds);
      process.stdout.write(`takeover: video resumed ${resumedAt - killedAt} ms after SIGKILL; ${timing}\n`);
    } finally {
      stopMoving();
    }
  });

  it('a recorder stopped mid-recording ends its ffmpeg in order and hands the recording to another', async () => {
    await h.stopRecorders();
    const first = await h.startRecorder();
    const stopMoving = h.keepMoving(STOPPED, 500);
    try {
      const { id } = await h.waitForRecording(STOPPED);
      await h.recordingWhen(id, (r) => r.video_started_at, 'video');
      await wait(1200);
      expect(await ffmpegProcessesWriting(h.dir)).toHaveLength(1);

      await h.stopRecorder(first);
      // No ffmpeg outlives its recorder, and what it wrote is a finished, readable file.
      expect(await ffmpegProcessesWriting(h.dir)).toEqual([]);
      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      expect((await h.store.get(id))?.status).toBe('recording');
      expect(await h.sessionJobCount()).toBe(1);

      await h.startRecorder();
      await waitFor('a second segment', async () => (await h.session(id))['segment:2'], {
        timeoutMs: 15_000,
      });
      await wait(1200);
      stopMoving();
      const done = await h.waitForFinish(id);
      expect(done).toMatchObject({ status: 'completed', video_status: 'completed' });
      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      await h.expectWallClock(done);
      expect((await h.webhooks()).filter((w) => w.webhookId.endsWith(id))).toHaveLength(2);
    } finally {
      stopMoving();
    }
  });
});
