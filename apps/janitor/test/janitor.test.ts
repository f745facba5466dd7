import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES, cleanupJob, openQueue } from '@eufy-relay/contracts';
import { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import { deletePrefixKeys, type RunningRole } from '@eufy-relay/runtime';
import { waitFor } from '@eufy-relay/testing';
import {
  CLEANUP_SCHEDULER_ID,
  CleanupFailedError,
  CleanupTimeoutError,
  cleanupHistoryKey,
  cleanupResultSchema,
  requestCleanup,
  start,
  type CleanupResult,
} from '../src';
import { DAY, addRecording, age, listDir, removeDir, tempDir, janitorConfig } from './helpers';

const prefix = `eufy-relay-test-janitor-role-${process.pid}`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', maxRetriesPerRequest: null };
let dir: string;
const running: RunningRole[] = [];
const closing: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  dir = await tempDir();
});

afterEach(async () => {
  for (const role of running.splice(0)) await role.stop();
  for (const c of closing.splice(0)) await c.close();
  await deletePrefixKeys(redis, prefix);
  await removeDir(dir);
});

afterAll(() => redis.quit());

async function history(): Promise<CleanupResult[]> {
  const entries = await redis.lrange(cleanupHistoryKey({ REDIS_PREFIX: prefix }), 0, -1);
  return entries.map((e) => cleanupResultSchema.parse(JSON.parse(e)));
}

function janitorQueue() {
  const queue = openQueue(cleanupJob, { connection, prefix });
  const events = new QueueEvents(QUEUES.janitor, { connection, prefix });
  closing.push(events, queue);
  return { queue, events };
}

describe('janitor role', () => {
  it('two janitors on one schedule: each scheduled run happens once, one at a time', async () => {
    const config = janitorConfig(prefix, dir, { CLEANUP_INTERVAL_SECONDS: '0.5' });
    const store = new RecordingStore(redis, config);
    const files = new RecordingFiles(dir);
    const expired = await addRecording(store, files, { sn: 'CAM1', startedAt: Date.now() - 91 * DAY });
    const fresh = await addRecording(store, files, { sn: 'CAM1', startedAt: Date.now() - DAY });

    const t0 = Date.now();
    running.push(await start(config), await start(config));
    const runs = await waitFor('the condition', async () => {
      const h = await history();
      return h.length >= 8 && h;
    });
    for (const role of running.splice(0)) await role.stop();
    const elapsed = Date.now() - t0;
    const all = await history();

    // Each run is a distinct job of the one scheduler, one per 0.5 s slot, never two for one slot.
    const { queue } = janitorQueue();
    expect(await queue.getJobSchedulers()).toEqual([
      expect.objectContaining({ key: CLEANUP_SCHEDULER_ID, every: 500 }),
    ]);
    expect(all.every((r) => r.trigger === 'scheduled')).toBe(true);
    const slots = all
      .map((r) => Number(/^repeat:janitor-cleanup:(\d+)$/.exec(r.job_id)?.[1]))
      .sort((a, b) => a - b);
    expect(new Set(slots).size).toBe(all.length);
    for (let i = 1; i < slots.length; i++) {
      expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(500);
      expect((slots[i]! - slots[i - 1]!) % 500).toBe(0);
    }
    expect(all.length).toBeLessThanOrEqual(Math.ceil(elapsed / 500) + 1);
    expect(await queue.getCompletedCount()).toBe(all.length);
    expect(await queue.getFailedCount()).toBe(0);
    // Never two runs at once (the queue's global concurrency is 1).
    const spans = all
      .map((r) => [Date.parse(r.started_at), Date.parse(r.finished_at)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    // The work itself happened once: one run deleted the expired recording, the others found nothing.
    expect(all.map((r) => r.deleted.retention).sort()).toEqual([...Array(all.length - 1).fill(0), 1]);
    expect(await listDir(dir)).toEqual([`${fresh}.jpg`, `${fresh}.mp4`]);
    expect(await store.get(expired)).toBeNull();
    expect(runs.length).toBeGreaterThanOrEqual(8);
  });

  it('requestCleanup (POST /cleanup) runs the janitor now and returns what it did', async () => {
    const config = janitorConfig(prefix, dir, { CLEANUP_INTERVAL_SECONDS: '3600' });
    running.push(await start(config));
    // The scheduler's first run happens at start; wait for it so the manual run below is the one measured.
    await waitFor('the condition', async () => (await history()).length === 1);

    const store = new RecordingStore(redis, config);
    const files = new RecordingFiles(dir);
    const expired = await addRecording(store, files, {
      sn: 'CAM1',
      startedAt: Date.now() - 100 * DAY,
      bytes: 5000,
    });
    const stale = path.join(dir, `.${expired}.jpg.1-dead.part`);
    await writeFile(stale, 'partial');
    await age(stale, 2 * 3_600_000);

    const { queue, events } = janitorQueue();
    const result = await requestCleanup(queue, events, 15_000);
    expect(result).toMatchObject({
      trigger: 'manual',
      deleted: { retention: 1, disk_pressure: 0 },
      bytes_freed: 5000 + 100 + 'partial'.length,
      repairs: { temp_files_removed: 1 },
      refused: null,
    });
    expect(result.job_id).toMatch(/^manual-/);
    expect(result.disk.before.total).toBeGreaterThan(0);
    expect((await history())[0]).toEqual(result);
    expect(await listDir(dir)).toEqual([]);
  });

  it('requestCleanup gives up after its timeout when no janitor runs, and withdraws the request', async () => {
    const { queue, events } = janitorQueue();
    const t0 = Date.now();
    const attempt = requestCleanup(queue, events, 300);
    await expect(attempt).rejects.toThrow(CleanupTimeoutError);
    await expect(attempt).rejects.toThrow(
      /did not finish within 300 ms \(it had not started and was cancelled\)/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(await queue.getWaitingCount()).toBe(0);
  });

  it('a run that fails is reported as a system_error webhook and fails the request', async () => {
    const config = janitorConfig(prefix, dir, { CLEANUP_INTERVAL_SECONDS: '3600' });
    running.push(await start(config));
    await waitFor('the condition', async () => (await history()).length === 1);
    await removeDir(dir);

    const { queue, events } = janitorQueue();
    await expect(requestCleanup(queue, events, 15_000)).rejects.toThrow(CleanupFailedError);
    const webhooks = new Queue(QUEUES.webhooks, { connection, prefix });
    closing.push(webhooks);
    const jobs = await webhooks.getJobs(['waiting']);
    expect(jobs.map((j) => j.data.payload)).toEqual([
      expect.objectContaining({
        event: 'system_error',
        operation: 'cleanup',
        error_message: expect.stringContaining('ENOENT'),
        context: expect.objectContaining({
          trigger: 'manual',
          occurrence: expect.stringMatching(/^janitor-cleanup-failed-manual-/),
        }),
      }),
    ]);
    // Recorded for GET /errors as well as sent.
    expect(jobs[0]!.id).toMatch(/^system_error\./);
  });
});
