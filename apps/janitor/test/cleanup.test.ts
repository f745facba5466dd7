import os from 'node:os';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { deletePrefixKeys } from '@eufy-relay/runtime';
import { recordingId } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { RecordingFiles, RecordingStore, diskUsage } from '@eufy-relay/recordings';
import { runCleanup, type CleanupDeps } from '../src/cleanup';
import { probeVideo } from '@eufy-relay/media';
import { ErrorReporter } from '@eufy-relay/errors';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { sharedSystemErrorReporter } from '../src/report';
import {
  DAY,
  addRecording,
  age,
  listDir,
  makeMp4,
  removeDir,
  smallDisk,
  tempDir,
  janitorConfig,
} from './helpers';

const prefix = `eufy-relay-test-janitor-cleanup-${process.pid}`;
const HOUR = 3_600_000;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
// Every run's report reaches the queue: folding of repeats is the reporter's concern, tested there.
const reporterConfig = janitorConfig(prefix, os.tmpdir(), { ERROR_FOLD_SECONDS: '0' });
const webhooks = openWebhookQueue(reporterConfig, redis);
let dir: string;
let store: RecordingStore;
let files: RecordingFiles;
let sampleMp4: string;
let sampleDir: string;

beforeAll(async () => {
  sampleDir = await tempDir();
  sampleMp4 = path.join(sampleDir, 'sample.mp4');
  await makeMp4(sampleMp4);
});

beforeEach(async () => {
  dir = await tempDir();
  store = new RecordingStore(redis, janitorConfig(prefix, dir));
  files = new RecordingFiles(dir);
});

afterEach(async () => {
  await deletePrefixKeys(redis, prefix);
  await removeDir(dir);
});

afterAll(async () => {
  await removeDir(sampleDir);
  await webhooks.close();
  await redis.quit();
});

function deps(
  overrides: Partial<Omit<CleanupDeps, 'settings'>> & { settings?: Partial<CleanupDeps['settings']> } = {},
): CleanupDeps {
  const { settings, ...rest } = overrides;
  return {
    store,
    files,
    diskUsage: () => diskUsage(dir),
    probe: (file, signal) => probeVideo(file, { timeoutMs: 30_000, signal }),
    reporter: sharedSystemErrorReporter(
      new ErrorReporter({
        config: reporterConfig,
        redis,
        webhooks,
        logger: createLogger({ level: 'silent' }),
      }),
    ),
    logger: createLogger({ level: 'silent' }),
    ...rest,
    settings: {
      retentionMs: 90 * DAY,
      retentionMsByCamera: new Map(),
      minFreeBytes: 0,
      orphanGraceMs: HOUR,
      ...settings,
    },
  };
}

const run = (d: CleanupDeps) => runCleanup(d, { jobId: 'test-run', instance: 'test', trigger: 'manual' });

async function systemErrors() {
  const jobs = await webhooks.getJobs(['waiting', 'delayed', 'prioritized']);
  return jobs.map((j) => j.data as { webhook_id: string; payload: Record<string, unknown> });
}

describe('retention', () => {
  it('1,000 recordings over 120 days, RETENTION_DAYS=90: exactly those older than 90 days go, files and index alike', async () => {
    const now = Date.now();
    const spacing = (120 * DAY) / 1000;
    const ids: { id: string; startedAt: number }[] = [];
    for (let i = 0; i < 1000; i++) {
      // Half a spacing off the grid, so no recording sits within an hour of the 90-day cutoff.
      const startedAt = Math.floor((now - (i + 0.5) * spacing) / 1000) * 1000;
      const status = i % 50 === 7 ? 'failed' : i % 50 === 9 ? 'missing' : 'completed';
      const id = await addRecording(store, files, { sn: `CAM${i % 5}`, startedAt, bytes: 200, status });
      ids.push({ id, startedAt });
    }
    const stuck = await addRecording(store, files, {
      sn: 'CAMX',
      startedAt: now - 100 * DAY,
      status: 'recording',
    });

    const result = await run(deps());

    const cutoff = now - 90 * DAY;
    const expired = ids.filter((r) => r.startedAt < cutoff);
    const kept = ids.filter((r) => r.startedAt >= cutoff);
    expect(expired).toHaveLength(250);
    expect(result.deleted).toEqual({ retention: 250, disk_pressure: 0 });
    // 250 expired, 5 of them "missing" (index only): 245 × (200 + 100) bytes.
    expect(result.bytes_freed).toBe(245 * 300);
    expect(result.refused).toBeNull();

    const onDisk = new Set(await listDir(dir));
    for (const r of expired) {
      expect(onDisk.has(`${r.id}.mp4`) || onDisk.has(`${r.id}.jpg`)).toBe(false);
      expect(await store.get(r.id)).toBeNull();
    }
    const keptMissing = kept.filter((_r, i) => i % 50 === 9).length;
    expect(onDisk.size).toBe((kept.length - keptMissing + 1) * 2);
    expect((await store.getMany(kept.map((r) => r.id))).length).toBe(750);
    expect(await store.get(stuck)).toMatchObject({ status: 'recording' });
    expect(onDisk.has(`${stuck}.mp4`)).toBe(true);
    const stats = await store.stats();
    expect(stats.count).toBe(751);
    expect(stats.oldest?.id).toBe(stuck);
    expect(stats.bytes).toBe((750 - keptMissing) * 200 + 1000);
    // A second run finds nothing more to do.
    expect((await run(deps())).deleted).toEqual({ retention: 0, disk_pressure: 0 });
  });
});

describe('retention per camera', () => {
  it('a camera with its own retention_days loses its recordings sooner (or later); the others keep the global one', async () => {
    const now = Date.now();
    const at = (days: number) => Math.floor((now - days * DAY) / 1000) * 1000;
    const short = await addRecording(store, files, { sn: 'CAMSHORT', startedAt: at(40), bytes: 200 });
    const shortKept = await addRecording(store, files, { sn: 'CAMSHORT', startedAt: at(20), bytes: 200 });
    const long = await addRecording(store, files, { sn: 'CAMLONG', startedAt: at(100), bytes: 200 });
    const other = await addRecording(store, files, { sn: 'CAMOTHER', startedAt: at(40), bytes: 200 });
    const otherOld = await addRecording(store, files, { sn: 'CAMOTHER', startedAt: at(100), bytes: 200 });

    const result = await run(
      deps({
        settings: {
          retentionMsByCamera: new Map([
            ['CAMSHORT', 30 * DAY],
            ['CAMLONG', 365 * DAY],
          ]),
        },
      }),
    );

    expect(result.deleted.retention).toBe(2);
    expect(await store.get(short)).toBeNull();
    expect(await store.get(otherOld)).toBeNull();
    for (const kept of [shortKept, long, other]) expect(await store.get(kept)).not.toBeNull();
  });
});

describe('disk pressure', () => {
  it('deletes the oldest finished recordings first and stops as soon as enough is free', async () => {
    const now = Date.now();
    const inProgress = await addRecording(store, files, {
      sn: 'CAM0',
      startedAt: now - 30 * DAY,
      status: 'recording',
    });
    const ordered: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Sizes differ, so the number deleted follows the real bytes, not a count.
      ordered.push(
        await addRecording(store, files, {
          sn: `CAM${i % 3}`,
          startedAt: now - (20 - i) * DAY,
          bytes: 1000 + i * 100,
        }),
      );
    }
    // The disk holds 21 videos + 21 thumbnails; make it 3,500 bytes short of MIN_FREE_DISK_BYTES.
    const used = 1000 + 100 + (20 * 1000 + 100 * 190) + 20 * 100;
    const disk = smallDisk(dir, used + 10_000);
    const result = await run(deps({ diskUsage: disk.measure, settings: { minFreeBytes: 13_500 } }));

    // Oldest first: 1100 + 1200 + 1300 (thumbnails 100 each) = 3,600 ≥ 3,500 after three.
    const gone = ordered.slice(0, 3);
    expect(result.deleted).toEqual({ retention: 0, disk_pressure: 3 });
    expect(result.bytes_freed).toBe(3600);
    expect(result.disk.before.free).toBe(10_000);
    expect(result.disk.after.free).toBe(13_600);
    for (const id of gone) expect(await store.get(id)).toBeNull();
    expect(await store.getMany(ordered.slice(3))).toHaveLength(17);
    expect(await store.get(inProgress)).toMatchObject({ status: 'recording' });
    const onDisk = await listDir(dir);
    expect(onDisk).toHaveLength(2 * 18);
    expect(onDisk).toContain(`${inProgress}.mp4`);
    // The disk was measured before each deletion, and no deletion followed the one that sufficed.
    const frees = disk.calls.map((c) => c.free);
    expect(frees.filter((f) => f >= 13_500)).toEqual([13_600, 13_600]);

    const reports = await systemErrors();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.webhook_id).toMatch(/^system_error\./);
    expect(reports[0]!.payload).toMatchObject({
      event: 'system_error',
      operation: 'disk_pressure_cleanup',
      error_type: 'DiskPressure',
      context: {
        recordings_deleted: 3,
        bytes_freed: 3600,
        free_bytes_before: 10_000,
        free_bytes_after: 13_600,
        min_free_bytes: 13_500,
        oldest_deleted: gone[0],
        newest_deleted: gone[2],
        occurrence: 'janitor-disk-pressure-test-run',
      },
    });
    expect(reports[0]!.payload.error_message).toMatch(
      /deleted 3 recordings before their retention, freeing 3600 bytes early/,
    );
  });

  it('the safety valve refuses to free space by deleting more than half of the recordings, and says so', async () => {
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(await addRecording(store, files, { sn: 'CAM1', startedAt: now - (10 - i) * DAY }));
    const expired = await addRecording(store, files, { sn: 'CAM1', startedAt: now - 91 * DAY });
    // A "disk" with 6 recordings' worth missing: more than half of 10.
    const disk = smallDisk(dir, 11 * 1100);
    const result = await run(deps({ diskUsage: disk.measure, settings: { minFreeBytes: 6 * 1100 + 1 } }));

    expect(result.refused).toMatchObject({ would_delete: 6, of_total: 10 });
    expect(result.refused!.reason).toMatch(/6 of 10 recordings would be deleted for reasons other than age/);
    // Age is not held back by the valve: the expired recording went.
    expect(result.deleted).toEqual({ retention: 1, disk_pressure: 0 });
    expect(await store.get(expired)).toBeNull();
    expect(await store.getMany(ids)).toHaveLength(10);
    expect(await listDir(dir)).toHaveLength(20);
    const reports = await systemErrors();
    expect(reports.map((r) => r.payload)).toEqual([
      expect.objectContaining({ event: 'system_error', operation: 'cleanup', error_type: 'SafetyValve' }),
    ]);
  });

  it('refuses when deleting every finished recording would not free enough (something else fills the disk)', async () => {
    const ids = [
      await addRecording(store, files, { sn: 'CAM1', startedAt: Date.now() - 2 * DAY }),
      ...(await Promise.all(
        [1, 2, 3].map((d) =>
          addRecording(store, files, { sn: 'CAM2', startedAt: Date.now() - d * HOUR, status: 'recording' }),
        ),
      )),
    ];
    const disk = smallDisk(dir, 5000);
    const result = await run(deps({ diskUsage: disk.measure, settings: { minFreeBytes: 10_000 } }));
    expect(result.refused?.reason).toMatch(
      /deleting all 1 finished recordings would not free the \d+ bytes missing/,
    );
    expect(await store.getMany(ids)).toHaveLength(4);
  });
});

describe('repair', () => {
  it('repairs orphans on both sides', async () => {
    const now = Date.now();
    // Files without index entry: a real fragmented MP4 (indexed via ffprobe), an unreadable one past
    // the grace period (removed with its thumbnail) and one inside it (kept for now).
    const playable = recordingId('CAM1', now - 2 * DAY);
    await copyFile(sampleMp4, files.videoPath(playable));
    await writeFile(files.thumbnailPath(playable), 'jpeg');
    const garbageOld = recordingId('CAM1', now - 3 * DAY);
    await writeFile(files.videoPath(garbageOld), 'not a video at all');
    await writeFile(files.thumbnailPath(garbageOld), 'jpeg');
    await age(files.videoPath(garbageOld), 2 * HOUR);
    await age(files.thumbnailPath(garbageOld), 2 * HOUR);
    const garbageYoung = recordingId('CAM1', now - 4 * DAY);
    await writeFile(files.videoPath(garbageYoung), 'still being written?');

    // Index entries whose file is gone: a completed one (marked missing), one that never had video
    // (left alone), one in progress (its file may not exist yet: left alone).
    const lost = await addRecording(store, files, { sn: 'CAM2', startedAt: now - 5 * DAY, withFile: false });
    const noVideoAt = Math.floor((now - 6 * DAY) / 1000) * 1000;
    const noVideo = (await store.create({ device_sn: 'CAM2', started_at: noVideoAt })).id;
    await store.finish(noVideo, {
      status: 'failed',
      video_status: 'no_video',
      failure_reason: 'station busy',
      ended_at: noVideoAt + 60_000,
      duration_seconds: 0,
      stop_reason: 'motion_timeout',
    });
    const starting = await addRecording(store, files, {
      sn: 'CAM3',
      startedAt: now,
      status: 'recording',
      withFile: false,
    });
    // A missing one whose file came back (a remounted disk).
    const back = await addRecording(store, files, {
      sn: 'CAM2',
      startedAt: now - 7 * DAY,
      status: 'missing',
    });
    await writeFile(files.videoPath(back), Buffer.alloc(777));
    // A healthy one, leftovers of dead writers, a stray thumbnail and a file that is not ours.
    const healthy = await addRecording(store, files, { sn: 'CAM4', startedAt: now - DAY });
    const staleTemp = path.join(dir, `.${healthy}.jpg.4242-dead.part`);
    const freshTemp = files.tempPath(starting, 'thumbnail');
    await writeFile(staleTemp, 'half a jpeg');
    await age(staleTemp, 2 * HOUR);
    await writeFile(freshTemp, 'being written');
    const strayThumb = recordingId('CAM5', now - 8 * DAY);
    await writeFile(files.thumbnailPath(strayThumb), 'jpeg');
    await age(files.thumbnailPath(strayThumb), 2 * HOUR);
    await writeFile(path.join(dir, 'notes.txt'), 'mine');
    await age(path.join(dir, 'notes.txt'), 100 * DAY);

    const result = await run(deps());

    expect(result.repairs).toEqual({
      indexed: 1,
      restored: 1,
      marked_missing: 1,
      unreadable_removed: 1,
      unreadable_pending: 1,
      orphan_thumbnails_removed: 1,
      temp_files_removed: 1,
    });
    expect(result.deleted).toEqual({ retention: 0, disk_pressure: 0 });
    expect(await store.get(playable)).toMatchObject({
      status: 'completed',
      video_status: 'completed',
      source: 'repair',
      codec: 'h264',
      width: 320,
      height: 240,
      has_audio: true,
      duration_seconds: 2,
      bytes: (await files.size(playable, 'video'))!,
    });
    expect(await store.get(lost)).toMatchObject({ status: 'missing', bytes: 0 });
    expect(await store.get(noVideo)).toMatchObject({ status: 'failed', video_status: 'no_video' });
    expect(await store.get(starting)).toMatchObject({ status: 'recording' });
    expect(await store.get(back)).toMatchObject({ status: 'completed', bytes: 777, missing_since: null });
    expect(await listDir(dir)).toEqual(
      [
        `${playable}.mp4`,
        `${playable}.jpg`,
        `${garbageYoung}.mp4`,
        `${back}.mp4`,
        `${healthy}.mp4`,
        `${healthy}.jpg`,
        path.basename(freshTemp),
        'notes.txt',
      ].sort(),
    );
    expect(result.bytes_freed).toBe('not a video at all'.length + 'jpeg'.length * 2 + 'half a jpeg'.length);

    // Once past its grace period, the young unreadable file goes too.
    await age(files.videoPath(garbageYoung), 2 * HOUR);
    expect((await run(deps())).repairs).toMatchObject({
      unreadable_removed: 1,
      unreadable_pending: 0,
      indexed: 0,
    });
    expect(await listDir(dir)).not.toContain(`${garbageYoung}.mp4`);
  });

  it('keeps files it cannot probe when ffprobe itself is unavailable', async () => {
    const orphan = recordingId('CAM1', Date.now() - DAY);
    await writeFile(files.videoPath(orphan), 'whatever');
    await age(files.videoPath(orphan), 2 * HOUR);
    const result = await run(
      deps({
        probe: (file) => probeVideo(file, { path: path.join(dir, 'no-such-ffprobe'), timeoutMs: 5000 }),
      }),
    );
    expect(result.repairs).toMatchObject({ unreadable_removed: 0, unreadable_pending: 1, indexed: 0 });
    expect(await listDir(dir)).toEqual([`${orphan}.mp4`]);
  });

  it('the safety valve refuses to remove unreadable files that would be more than half of everything', async () => {
    const now = Date.now();
    for (let i = 0; i < 3; i++)
      await addRecording(store, files, { sn: 'CAM1', startedAt: now - (i + 1) * DAY });
    for (let i = 0; i < 4; i++) {
      const id = recordingId('CAM9', now - (i + 1) * DAY);
      await writeFile(files.videoPath(id), 'garbage');
      await age(files.videoPath(id), 2 * HOUR);
    }
    const result = await run(deps());
    expect(result.refused).toMatchObject({ would_delete: 4, of_total: 7 });
    expect(result.repairs.unreadable_removed).toBe(0);
    expect(await listDir(dir)).toHaveLength(3 * 2 + 4);
    expect((await systemErrors()).map((r) => r.payload.error_type)).toEqual(['SafetyValve']);
  });
});
