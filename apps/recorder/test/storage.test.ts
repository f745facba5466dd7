import { createWriteStream, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ConfigError, loadConfig } from '@eufy-relay/config';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { StorageHealth } from '@eufy-relay/storage';
import { RecordingObjects, createS3Client } from '@eufy-relay/storage/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { waitFor } from '@eufy-relay/testing';
import { start } from '../src';
import { camera, startHarness, type Harness } from './harness';

/** Polls `check` until it holds (a hang guard, not a speed target). */
const until = <T>(check: () => T | Promise<T>, timeoutMs: number, what: string) =>
  waitFor(what, check, { timeoutMs });

const CAM = 'T8113P0223000701';
const PAUSED = 'T8113P0223000702';
const BUCKET = 'recorder-test';
/** How long the S3 server stops answering in the outage test (the 30 s). */
const OUTAGE_MS = 30_000;

describe('recordings stored in an S3 bucket (STORAGE_BACKEND=s3, real fauxqs)', () => {
  let s3: S3TestServer;
  let h: Harness;
  let objects: RecordingObjects;

  beforeAll(async () => {
    assertFfmpeg();
    s3 = await startS3TestServer({ buckets: [BUCKET] });
    h = await startHarness('storage', {
      scenario: { devices: [camera(CAM), camera(PAUSED)] },
      env: {
        ...s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }),
        S3_TIMEOUT_MS: '1000',
        MOTION_TIMEOUT_SECONDS: '2',
        UPLOAD_RETRY_MAX_DELAY_SECONDS: '2',
      },
    });
    objects = new RecordingObjects(createS3Client(h.config), h.config);
  }, 60_000);
  afterAll(async () => {
    s3?.resume();
    objects?.client.destroy();
    await h?.close();
    await s3?.stop();
  });

  const spool = async () => (await readdir(h.dir)).filter((f) => !f.startsWith('.'));

  it('uploads a finished recording: object of the right size, index says stored, spool emptied', async () => {
    const stopMoving = h.keepMoving(CAM, 500);
    const { id } = await h.waitForRecording(CAM);
    await h.recordingWhen(id, (r) => r.video_started_at, 'video');
    await new Promise((r) => setTimeout(r, 1500));
    stopMoving();
    const finished = await h.waitForFinish(id);
    const stored = await h.recordingWhen(id, (r) => r.stored_at !== null, 'stored', 30_000);
    expect(stored.stored_at).toBeGreaterThanOrEqual(finished.ended_at!);
    const video = await objects.head(objects.key(id, 'video'));
    expect(video).not.toBeNull();
    expect(video!.bytes).toBe(stored.bytes);
    expect(stored.bytes).toBeGreaterThan(10_000);
    expect(await objects.head(objects.key(id, 'thumbnail'))).not.toBeNull();
    await until(async () => (await spool()).length === 0, 5000, 'an empty spool');
    expect(
      (await h.webhooks('motion_stopped')).filter((w) => w.webhookId === `motion_stopped.${id}`),
    ).toHaveLength(1);
  }, 90_000);

  it('S3 stops answering for 30 s mid-work: the upload waits in the spool, /health state and a system_error say so, then it is stored', async () => {
    const health = new StorageHealth(h.redis, h.config);
    const stopMoving = h.keepMoving(PAUSED, 500);
    const { id } = await h.waitForRecording(PAUSED);
    await h.recordingWhen(id, (r) => r.video_started_at, 'video');
    s3.pause();
    const pausedAt = Date.now();
    try {
      stopMoving();
      await h.waitForFinish(id);
      const failing = await until(
        async () => {
          const state = await health.read();
          return state.ok ? undefined : state;
        },
        20_000,
        'the storage health to turn failing',
      );
      expect(failing.error).toMatch(/timeout|exceeded|ETIMEDOUT|socket/i);
      // Reported right after the health state turned: waited for, not raced.
      await until(
        async () =>
          (await h.webhooks('system_error')).some(
            (w) => (w.payload as unknown as { operation: string }).operation === 'upload_recording',
          ),
        10_000,
        'a system_error for the upload',
      );
      expect(existsSync(h.files.videoPath(id))).toBe(true);
      expect((await h.store.get(id))!.stored_at).toBeNull();
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - pausedAt))));
    } finally {
      s3.resume();
    }
    const stored = await h.recordingWhen(id, (r) => r.stored_at !== null, 'stored after the outage', 30_000);
    expect((await objects.head(objects.key(id, 'video')))!.bytes).toBe(stored.bytes);
    // The index is told first, then the spool copy goes and the health state turns: waited for.
    await until(async () => !existsSync(h.files.videoPath(id)), 5000, 'the spool copy removed');
    await until(async () => (await health.read()).ok, 5000, 'the storage health back to ok');
  }, 120_000);

  it('a recorder that starts finds a finished recording left in its spool (crash before the upload) and stores it', async () => {
    const [last] = (await h.recordings(CAM)).slice(-1);
    // The crash: a finished recording, its file back in the spool, its upload never queued, not stored.
    const orphanId = `${CAM}_20261207_010203`;
    await h.store.create({
      device_sn: CAM,
      started_at: Date.UTC(2026, 11, 7, 1, 2, 3),
      status: 'completed',
      video_status: 'completed',
      ended_at: Date.UTC(2026, 11, 7, 1, 2, 9),
      duration_seconds: 6,
      stop_reason: 'motion_timeout',
      bytes: last!.bytes,
    });
    const got = await objects.read(objects.key(last!.id, 'video'), {});
    if (got.refused) throw new Error('the first recording is not in the bucket');
    await pipeline(got.body, createWriteStream(h.files.videoPath(orphanId)));
    await h.stopRecorders();
    await h.startRecorder();
    const stored = await h.recordingWhen(orphanId, (r) => r.stored_at !== null, 'the orphan stored', 30_000);
    expect((await objects.head(objects.key(orphanId, 'video')))!.bytes).toBe(stored.bytes);
    await until(async () => !existsSync(h.files.videoPath(orphanId)), 5000, 'the spool copy removed');
  }, 60_000);

  it('does not start against a bucket that is not there: one line naming S3_BUCKET', async () => {
    const config = loadConfig({ env: { ...h.env, S3_BUCKET: 'not-there' } });
    const failure = await start(config, { logger: h.logger }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).lines).toEqual([
      `storage: S3_BUCKET="not-there": the bucket does not exist at S3_ENDPOINT="${s3.endpoint}"`,
    ]);
  });
});
