import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { RecordingObjects, createS3Client } from '@eufy-relay/storage/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { waitFor } from '@eufy-relay/testing';
import { camera, decodeErrors, startHarness, type Harness } from './harness';

/** Polls `check` until it holds (a hang guard, not a speed target). */
const until = <T>(check: () => T | Promise<T>, timeoutMs: number, what: string) =>
  waitFor(what, check, { timeoutMs });

const CAM = 'T8113P0223000801';
const BUCKET = 'recorder-hosts-test';
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two recorders on "different hosts" (own RECORDINGS_DIR each) and one bucket', () => {
  let s3: S3TestServer;
  let h: Harness;
  let objects: RecordingObjects;
  let otherSpool: string;

  beforeAll(async () => {
    assertFfmpeg();
    s3 = await startS3TestServer({ buckets: [BUCKET] });
    otherSpool = await mkdtemp(path.join(tmpdir(), 'eufy-relay-recorder-other-host-'));
    h = await startHarness('storage-hosts', {
      scenario: { devices: [camera(CAM)] },
      env: {
        ...s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }),
        RECORDING_TAKEOVER_SECONDS: '2',
        MOTION_TIMEOUT_SECONDS: '2',
      },
      recorders: 0,
    });
    objects = new RecordingObjects(createS3Client(h.config), h.config);
  }, 60_000);
  afterAll(async () => {
    objects?.client.destroy();
    await h?.close();
    await s3?.stop();
    await rm(otherSpool, { recursive: true, force: true });
  });

  it('SIGKILL of the first: the second finishes the recording, one playable object, one motion_stopped, its own spool emptied', async () => {
    const child = h.spawnRecorder({ RECORDINGS_DIR: otherSpool });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await until(
      () => output.includes('"msg":"recording on motion"'),
      60_000,
      'the first recorder to start',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; its output:\n${output.slice(-3000)}`);
    });
    const stopMoving = h.keepMoving(CAM, 500);
    try {
      const { id } = await h.waitForRecording(CAM);
      await h.recordingWhen(id, (r) => r.video_started_at, 'video on the first host');
      await wait(1200);
      await h.startRecorder();
      child.kill('SIGKILL');
      await until(
        async () => {
          const segment = (await h.session(id))['segment:2'];
          return segment && (JSON.parse(segment) as { first_frame_at: number | null }).first_frame_at;
        },
        30_000,
        'video from the second host',
      );
      await wait(1200);
      stopMoving();
      const done = await h.waitForFinish(id);
      expect(done).toMatchObject({ status: 'completed', video_status: 'completed' });
      const stored = await h.recordingWhen(id, (r) => r.stored_at !== null, 'stored', 30_000);

      const keys: string[] = [];
      for await (const o of objects.list()) keys.push(o.key);
      expect(keys.sort()).toEqual([`recordings/${id}.jpg`, `recordings/${id}.mp4`]);
      const object = await objects.read(objects.key(id, 'video'), {});
      if (object.refused) throw new Error(`the video object is not readable (${object.status})`);
      expect(object.bytes).toBe(stored.bytes);
      const copy = path.join(otherSpool, 'downloaded.mp4');
      await pipeline(object.body, createWriteStream(copy));
      expect(decodeErrors(copy)).toBe('');
      expect((await h.webhooks()).map((w) => w.webhookId).sort()).toEqual([
        `motion_detected.${id}`,
        `motion_stopped.${id}`,
      ]);
      expect((await readdir(h.dir)).filter((f) => f.includes(id))).toEqual([]);
    } finally {
      stopMoving();
    }
  }, 120_000);
});
