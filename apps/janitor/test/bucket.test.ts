import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { recordingId } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { probeVideo } from '@eufy-relay/media';
import { RecordingFiles, RecordingStore, diskUsage } from '@eufy-relay/recordings';
import { indexFinishedRecording } from '@eufy-relay/recordings/testing';
import { deletePrefixKeys } from '@eufy-relay/runtime';
import { RecordingObjects, createS3Client } from '@eufy-relay/storage/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { runCleanup, type CleanupDeps } from '../src/cleanup';
import type { SystemProblem } from '../src/report';
import { DAY, janitorConfig, makeMp4, removeDir, tempDir } from './helpers';

const prefix = `eufy-relay-test-janitor-bucket-${process.pid}`;
const BUCKET = 'janitor-test';
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const none = { load: async () => null, save: async () => {}, clear: async () => {} };
let s3: S3TestServer;
let objects: RecordingObjects;
let work: string;
let sample: string;
let store: RecordingStore;
let problems: SystemProblem[];

beforeAll(async () => {
  s3 = await startS3TestServer({ buckets: [BUCKET] });
  work = await tempDir();
  sample = path.join(work, 'sample.mp4');
  await makeMp4(sample);
  const config = janitorConfig(prefix, work, s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }));
  objects = new RecordingObjects(createS3Client(config), config);
  store = new RecordingStore(redis, config);
});

beforeEach(() => {
  problems = [];
});

afterEach(async () => {
  const keys: string[] = [];
  for await (const o of objects.list()) keys.push(o.key);
  await objects.deleteMany(keys);
  await deletePrefixKeys(redis, prefix);
});

afterAll(async () => {
  objects?.client.destroy();
  await s3?.stop();
  await removeDir(work);
  await redis.quit();
});

/** A finished recording as the upload leaves it: index entry with stored_at, video and thumbnail objects. */
async function stored(sn: string, startedAt: number, withObject = true): Promise<string> {
  const started = Math.floor(startedAt / 1000) * 1000;
  const id = recordingId(sn, started);
  await indexFinishedRecording(store, id);
  if (withObject) {
    const video = await objects.uploadFile(sample, objects.key(id, 'video'), 'video', none);
    const jpg = path.join(work, `${id}.jpg`);
    await writeFile(jpg, 'jpeg');
    await objects.uploadFile(jpg, objects.key(id, 'thumbnail'), 'thumbnail', none);
    await store.update(id, { stored_at: Date.now(), bytes: video.bytes });
  } else {
    await store.update(id, { stored_at: Date.now(), bytes: 1000 });
  }
  return id;
}

/** An object nobody indexed: `readable` a real MP4, else bytes ffprobe rejects. */
async function unindexed(sn: string, startedAt: number, readable: boolean): Promise<string> {
  const id = recordingId(sn, Math.floor(startedAt / 1000) * 1000);
  const file = path.join(work, `${id}.mp4`);
  if (readable) await objects.uploadFile(sample, objects.key(id, 'video'), 'video', none);
  else {
    await writeFile(file, 'not a video at all');
    await objects.uploadFile(file, objects.key(id, 'video'), 'video', none);
  }
  return id;
}

async function keysInBucket(): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of objects.list(undefined, 3)) keys.push(o.key);
  return keys.sort();
}

function deps(spool: string): CleanupDeps {
  return {
    store,
    files: new RecordingFiles(spool),
    bucket: objects,
    diskUsage: () => diskUsage(spool),
    probe: (file, signal) => probeVideo(file, { timeoutMs: 30_000, signal }),
    reporter: { report: async (p: SystemProblem) => void problems.push(p) },
    logger: createLogger({ level: 'silent' }),
    // Disk pressure would apply to this spool only; with 1 PB asked, a disk janitor would delete everything.
    settings: {
      retentionMs: 90 * DAY,
      retentionMsByCamera: new Map(),
      minFreeBytes: 2 ** 50,
      orphanGraceMs: 0,
    },
  };
}

const run = (d: CleanupDeps) => runCleanup(d, { jobId: 'bucket-run', instance: 'test', trigger: 'manual' });

describe('janitor with STORAGE_BACKEND=s3 (real fauxqs)', () => {
  it('retention deletes exactly the old objects; repair indexes a readable stray object, removes an unreadable one, marks a lost object missing; disk pressure deletes nothing', async () => {
    const now = Date.now();
    const old = [await stored('CAMOLD1', now - 120 * DAY), await stored('CAMOLD2', now - 91 * DAY)];
    const young = [await stored('CAMNEW1', now - 89 * DAY), await stored('CAMNEW2', now - DAY)];
    const lost = await stored('CAMLOST', now - 2 * DAY, false);
    const stray = await unindexed('CAMSTRAY', now - 3 * DAY, true);
    const junk = await unindexed('CAMJUNK', now - 4 * DAY, false);
    const spool = await tempDir();
    try {
      const result = await run(deps(spool));
      expect(result.deleted).toEqual({ retention: 2, disk_pressure: 0 });
      expect(result.refused).toBeNull();
      expect(result.repairs).toMatchObject({ indexed: 1, unreadable_removed: 1, marked_missing: 1 });
      const expected = [...young, stray].flatMap((id) =>
        id === stray ? [`recordings/${id}.mp4`] : [`recordings/${id}.jpg`, `recordings/${id}.mp4`],
      );
      expect(await keysInBucket()).toEqual(expected.sort());
      for (const id of old) expect(await store.get(id)).toBeNull();
      expect((await store.get(stray))?.stored_at).not.toBeNull();
      expect((await store.get(lost))?.status).toBe('missing');
      expect(await store.get(junk)).toBeNull();
    } finally {
      await removeDir(spool);
    }
  }, 60_000);

  it('the safety valve refuses to delete unindexed objects that are more than half of all recordings', async () => {
    const now = Date.now();
    const kept = await stored('CAMKEEP', now - DAY);
    const junk = [
      await unindexed('CAMJUNK1', now - 2 * DAY, false),
      await unindexed('CAMJUNK2', now - 3 * DAY, false),
      await unindexed('CAMJUNK3', now - 4 * DAY, false),
    ];
    const spool = await tempDir();
    try {
      const result = await run(deps(spool));
      // Three is past the floor of two deletions a run may always make, and more than half of four.
      expect(result.refused).toMatchObject({ would_delete: 3, of_total: 4 });
      expect(problems.map((p) => p.error_type)).toEqual(['SafetyValve']);
      expect(await keysInBucket()).toEqual(
        [
          `recordings/${kept}.jpg`,
          `recordings/${kept}.mp4`,
          ...junk.map((id) => `recordings/${id}.mp4`),
        ].sort(),
      );
    } finally {
      await removeDir(spool);
    }
  }, 60_000);
});
