import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import {
  QUEUES,
  addJob,
  openQueue,
  recordingId,
  recordingSessionJob,
  type JobQueue,
} from '@eufy-relay/contracts';
import { runTool } from '@eufy-relay/media';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { encodeStream } from '../../../packages/media/test/helpers';
import { recordingSessionJobOptions } from '../src';
import { SessionRecords } from '../src/session-records';
import { waitFor } from '@eufy-relay/testing';
import { camera, decodeErrors, startHarness, type Harness } from './harness';

/**
 * Faults that must lose nothing. The full disk is real: RECORDINGS_DIR is a small tmpfs this test
 * mounts (tests run as root, in CI too); a filler file takes every free byte and is removed when
 * the test gives the space back.
 */
const DISK_BYTES = 16 * 1024 * 1024;

class SmallDisk {
  readonly dir = path.join(tmpdir(), `eufy-relay-small-disk-${process.pid}`);
  private readonly filler = path.join(this.dir, 'filler.bin');

  async mount(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', this.dir]);
  }

  /** Writes until the file system says ENOSPC. */
  async fill(): Promise<void> {
    const file = await open(this.filler, 'a');
    const block = Buffer.alloc(64 * 1024);
    try {
      for (;;) await file.write(block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      await file.close();
    }
    const s = await statfs(this.dir);
    expect(s.bavail * s.bsize).toBeLessThan(64 * 1024);
  }

  async free(): Promise<void> {
    await rm(this.filler, { force: true });
  }

  async unmount(): Promise<void> {
    execFileSync('umount', ['-l', this.dir]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

const STITCH_FAILS = 'T8113P0223000701';
const STITCH_RECOVERS = 'T8113P0223000702';
const ORPHAN = 'T8113P0223000703';
const LONG_REASON = 'T8113P0223000704';
const FILLS_UP = 'T8113P0223000705';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(120_000);

describe('faults that must lose nothing', () => {
  const disk = new SmallDisk();
  let h: Harness;
  let sessions: SessionRecords;
  let queue: JobQueue<typeof recordingSessionJob>;

  beforeAll(async () => {
    assertFfmpeg();
    await disk.mount();
    h = await startHarness('faults', {
      scenario: { devices: [camera(FILLS_UP)] },
      env: { RECORDINGS_DIR: disk.dir, RETRY_BASE_DELAY_MS: '1000', RECORDING_TAKEOVER_SECONDS: '1' },
    });
    sessions = new SessionRecords(h.redis, h.config);
    queue = openQueue(recordingSessionJob, { connection: h.redis, prefix: h.config.REDIS_PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    await h?.close();
    await disk.unmount();
  });

  /** A fragmented MP4 segment of `seconds` of H.264 at 15 fps, written where the recorder would. */
  async function segment(id: string, main: boolean, seconds: number, at: number): Promise<void> {
    const file = main ? h.files.videoPath(id) : h.files.tempPath(id, 'video');
    const stream = path.join(tmpdir(), `${path.basename(file)}.h264`);
    await writeFile(stream, await encodeStream(tmpdir(), { codec: 'h264', frames: 15 * seconds, gop: 30 }));
    await runTool('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-framerate', '15', '-f', 'h264', '-i', stream, '-c', 'copy'],
      ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', file],
    ]);
    await rm(stream);
    const record = await sessions.addSegment(id, path.basename(file));
    await sessions.updateSegment(id, { ...record, first_frame_at: at, last_frame_at: at + seconds * 1000 });
  }

  /**
   * A recording in progress as a recorder leaves it when its motion has ended: the index entry, the
   * camera's state, and segments on disk (a first of 2 s, a second of 3 s after a takeover).
   */
  async function recordingInProgress(
    sn: string,
    { segments = true, before }: { segments?: boolean; before?: (id: string) => Promise<void> } = {},
  ): Promise<string> {
    const startedAt = Math.floor(Date.now() / 1000) * 1000 - 20_000;
    const id = recordingId(sn, startedAt);
    if (segments) {
      await segment(id, true, 2, startedAt);
      await segment(id, false, 3, startedAt + 4000);
    }
    await h.redis.hset(`${h.config.REDIS_PREFIX}:recorder:camera:${sn}`, {
      recording_id: id,
      started_at: String(startedAt),
      last_motion_at: String(startedAt + 5000),
      setup: '1',
    });
    await before?.(id);
    // Last, as a recorder does: the entry right before its session job (the sweep's quiet period).
    await h.store.create({ device_sn: sn, started_at: startedAt, video_started_at: startedAt });
    return id;
  }

  const queueSession = (id: string, sn: string): Promise<Job> =>
    addJob(
      queue,
      recordingSessionJob,
      { recording_id: id, device_sn: sn },
      { jobId: id, ...recordingSessionJobOptions(h.config) },
    );

  async function motionStopped(id: string) {
    const sent = (await h.webhooks('motion_stopped')).filter((w) => w.webhookId === `motion_stopped.${id}`);
    expect(sent).toHaveLength(1);
    return sent[0]!.payload as { video_status: string; reason?: string };
  }

  it('a finish that cannot stitch (disk full) is retried, then ends failed with the first segment kept and one motion_stopped', async () => {
    const id = await recordingInProgress(STITCH_FAILS, { before: () => disk.fill() });
    try {
      const job = await queueSession(id, STITCH_FAILS);
      const done = await h.waitForFinish(id, 60_000);
      expect(done).toMatchObject({ status: 'failed', video_status: 'failed', stop_reason: 'motion_timeout' });
      expect(done.failure_reason).toMatch(/No space left on device/);
      expect(done.failure_reason).toMatch(/could not be stitched: kept 2\.0 s of the 5\.0 s recorded/);
      // The finish was retried before it settled for what was on disk (how many attempts BullMQ
      // counts by then depends on whether the last one was still running when the index said failed).
      expect((await queue.getJob(job.id!))?.attemptsMade).toBeGreaterThanOrEqual(2);
      expect((await h.probe(id)).durationSeconds).toBeCloseTo(2, 0);
      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      expect(await motionStopped(id)).toMatchObject({ video_status: 'failed', reason: done.failure_reason });
    } finally {
      await disk.free();
    }
  });

  it('a finish retried after the disk has space again stitches the whole recording', async () => {
    const id = await recordingInProgress(STITCH_RECOVERS, { before: () => disk.fill() });
    let job: Job;
    try {
      job = await queueSession(id, STITCH_RECOVERS);
      await waitFor('a failed attempt', async () => ((await queue.getJob(id))?.attemptsMade ?? 0) >= 1, {
        timeoutMs: 20_000,
      });
    } finally {
      await disk.free();
    }
    const done = await h.waitForFinish(id, 60_000);
    expect(done).toMatchObject({ status: 'completed', video_status: 'completed', failure_reason: null });
    expect((await queue.getJob(job.id!))?.attemptsMade).toBeGreaterThanOrEqual(1);
    expect((await h.probe(id)).durationSeconds).toBeCloseTo(7, 0);
    expect(await motionStopped(id)).toMatchObject({ video_status: 'completed' });
  });

  it('a recording left `recording` with no session job is ended by the sweep: failed, video kept, one motion_stopped', async () => {
    const id = await recordingInProgress(ORPHAN);
    const done = await h.waitForFinish(id, 30_000);
    expect(done).toMatchObject({ status: 'failed', video_status: 'failed' });
    expect(done.failure_reason).toMatch(/no recorder owned it: its session job was gone/);
    expect((await h.probe(id)).durationSeconds).toBeCloseTo(7, 0);
    expect(await motionStopped(id)).toMatchObject({ video_status: 'failed', reason: done.failure_reason });
  });

  it('a reason longer than the limit is cut once: the index and motion_stopped say the same', async () => {
    const id = await recordingInProgress(LONG_REASON, {
      segments: false,
      before: (recording) => sessions.setProblem(recording, `the livestream failed: ${'x'.repeat(5000)}`),
    });
    await queueSession(id, LONG_REASON);
    const done = await h.waitForFinish(id, 30_000);
    expect(done).toMatchObject({ status: 'failed', video_status: 'no_video' });
    expect(done.failure_reason).toHaveLength(1000);
    expect(await motionStopped(id)).toMatchObject({ video_status: 'no_video', reason: done.failure_reason });
    expect(existsSync(h.files.videoPath(id))).toBe(false);
  });

  it('a disk that fills mid-recording: ends failed with what reached it playable, a system_error, a janitor run at once; the next recording works when space is back', async () => {
    const janitor = new Queue(QUEUES.janitor, { connection: h.redis, prefix: h.config.REDIS_PREFIX });
    let stopMoving = h.keepMoving(FILLS_UP, 500);
    let id: string;
    try {
      id = (await h.waitForRecording(FILLS_UP)).id;
      await h.recordingWhen(id, (r) => r.video_started_at, 'video');
      await wait(3000);
      await disk.fill();
      const done = await h.waitForFinish(id, 60_000);
      stopMoving();
      expect(done).toMatchObject({ status: 'failed', video_status: 'failed', stop_reason: 'disk_full' });
      expect(done.failure_reason).toMatch(/^RECORDINGS_DIR is full: ffmpeg could not write/);
      expect(decodeErrors(h.files.videoPath(id))).toBe('');
      expect((await h.probe(id)).durationSeconds).toBeGreaterThan(1);
      expect(await motionStopped(id)).toMatchObject({ video_status: 'failed' });
      const errors = (await h.webhooks('system_error')).map(
        (w) => w.payload as { error_type: string; error_message: string },
      );
      expect(errors).toContainEqual(expect.objectContaining({ error_type: 'DiskFull' }));
      const requested = await janitor.getJobs(['waiting', 'prioritized', 'delayed']);
      expect(requested.map((j) => j.data)).toContainEqual({ trigger: 'disk_full' });
    } finally {
      stopMoving();
      await disk.free();
      await janitor.obliterate({ force: true });
      await janitor.close();
    }

    // Space is back: once what started while the disk was full has ended, the camera's next
    // motion records as ever.
    await waitFor(
      'the recordings started on the full disk to end',
      async () => (await h.recordings(FILLS_UP)).every((r) => r.status !== 'recording'),
      { timeoutMs: 30_000 },
    );
    const before = new Set((await h.recordings(FILLS_UP)).map((r) => r.id));
    stopMoving = h.keepMoving(FILLS_UP, 500);
    try {
      const next = await waitFor(
        'the next recording',
        async () => (await h.recordings(FILLS_UP)).find((r) => !before.has(r.id)),
        { timeoutMs: 20_000 },
      );
      await h.recordingWhen(next.id, (r) => r.video_started_at, 'video');
      await wait(2000);
      stopMoving();
      const done = await h.waitForFinish(next.id, 60_000);
      expect(done).toMatchObject({ status: 'completed', video_status: 'completed' });
      expect(decodeErrors(h.files.videoPath(next.id))).toBe('');
    } finally {
      stopMoving();
    }
  });
});
