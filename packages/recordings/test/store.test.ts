import { Redis } from 'ioredis';

import { recordingId } from '@eufy-relay/contracts';
import { deletePrefixKeys } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import {
  CorruptRecordingError,
  InvalidRecordingInputError,
  RecordingExistsError,
  RecordingNotFoundError,
  RecordingStatusConflictError,
  RecordingStore,
  type RecordingRef,
} from '../src';

const prefix = `eufy-relay-test-recordings-store-${process.pid}`;
const config = testConfig(prefix);
const redis = new Redis(config.REDIS_URL);
const store = new RecordingStore(redis, config);

const T0 = Date.UTC(2025, 0, 30, 14, 30, 22, 123);
const HOUR = 3600_000;

const clearPrefix = () => deletePrefixKeys(redis, prefix);

async function allPages(query: Parameters<RecordingStore['listRefs']>[0]): Promise<RecordingRef[]> {
  const seen: RecordingRef[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<RecordingStore['listRefs']>> = await store.listRefs({ ...query, cursor });
    seen.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return seen;
}

beforeEach(clearPrefix);
afterAll(async () => {
  await clearPrefix();
  await redis.quit();
});

describe('RecordingStore writes', () => {
  it('creates a recording with its id, defaults and every index entry; a second create fails', async () => {
    const rec = await store.create({
      device_sn: 'T8113P0223000002',
      started_at: T0,
      station_sn: 'T8010P1234',
    });
    expect(rec).toMatchObject({
      id: 'T8113P0223000002_20250130_143022',
      device_sn: 'T8113P0223000002',
      video_file: 'T8113P0223000002_20250130_143022.mp4',
      thumbnail_file: 'T8113P0223000002_20250130_143022.jpg',
      status: 'recording',
      video_status: 'recording',
      started_at: T0,
      ended_at: null,
      bytes: 0,
      restarts: 0,
      source: 'recorder',
      station_sn: 'T8010P1234',
      has_audio: null,
    });
    expect(await redis.zscore(store.keys.byStart(), rec.id)).toBe(String(T0));
    expect(await redis.zscore(store.keys.byCamera('T8113P0223000002'), rec.id)).toBe(String(T0));
    expect(await redis.zscore(store.keys.byStatus('recording'), rec.id)).toBe(String(T0));
    expect(await redis.zscore(store.keys.byCameraStatus('T8113P0223000002', 'recording'), rec.id)).toBe(
      String(T0),
    );
    expect(await redis.hgetall(store.keys.totals())).toEqual({
      count: '1',
      'count:T8113P0223000002': '1',
    });

    await expect(store.create({ device_sn: 'T8113P0223000002', started_at: T0 + 500 })).rejects.toThrow(
      RecordingExistsError,
    );
    expect(await store.count()).toBe(1);
  });

  it('rejects bad input with a clear error and writes nothing', async () => {
    await expect(store.create({ device_sn: 'bad_sn', started_at: T0 })).rejects.toThrow(
      /invalid new recording: device_sn/,
    );
    await expect(store.create({ device_sn: 'CAM1', started_at: T0, bytes: -5 } as never)).rejects.toThrow(
      InvalidRecordingInputError,
    );
    const rec = await store.create({ device_sn: 'CAM1', started_at: T0 });
    await expect(store.update(rec.id, { started_at: 5 } as never)).rejects.toThrow(
      /invalid recording change: \(root\): Unrecognized key: "started_at"/,
    );
    await expect(store.update('../etc/passwd', { bytes: 1 })).rejects.toThrow(/is not \{device_sn\}/);
    await expect(store.update(recordingId('CAM2', T0), { bytes: 1 })).rejects.toThrow(RecordingNotFoundError);
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(6);
    expect(await store.get(rec.id)).toMatchObject({ bytes: 0, started_at: T0 });
  });

  it('keeps byte totals and status sets in step through update, finish, missing, found and delete', async () => {
    const a = await store.create({ device_sn: 'CAM1', started_at: T0 });
    const b = await store.create({ device_sn: 'CAM2', started_at: T0 + HOUR });
    await store.update(a.id, { bytes: 1000, codec: 'h264', width: 1920, height: 1080, has_audio: true });
    await store.update(b.id, { bytes: 300, waiting_for_slot_since: T0 + HOUR, slot_blocked_by: a.id });
    expect(await redis.hgetall(store.keys.totals())).toEqual({
      count: '2',
      bytes: '1300',
      'count:CAM1': '1',
      'bytes:CAM1': '1000',
      'count:CAM2': '1',
      'bytes:CAM2': '300',
    });

    const finished = await store.finish(a.id, {
      status: 'completed',
      video_status: 'completed',
      ended_at: T0 + 61_000,
      duration_seconds: 61,
      stop_reason: 'motion_timeout',
      bytes: 4000,
      restarts: 2,
    });
    expect(finished).toMatchObject({
      status: 'completed',
      bytes: 4000,
      restarts: 2,
      has_audio: true,
      codec: 'h264',
    });
    expect(await redis.zscore(store.keys.byStatus('recording'), a.id)).toBeNull();
    expect(await redis.zscore(store.keys.byStatus('completed'), a.id)).toBe(String(T0));
    expect(await redis.zscore(store.keys.byCameraStatus('CAM1', 'completed'), a.id)).toBe(String(T0));
    await expect(
      store.finish(a.id, {
        status: 'failed',
        video_status: 'failed',
        ended_at: T0,
        duration_seconds: 0,
        stop_reason: 'x',
      }),
    ).rejects.toThrow(RecordingStatusConflictError);

    // The wait is cleared once video starts; who blocked the slot stays as the why.
    const started = await store.update(b.id, {
      waiting_for_slot_since: null,
      video_started_at: T0 + 2 * HOUR,
    });
    expect(started).toMatchObject({ waiting_for_slot_since: null, slot_blocked_by: a.id });
    expect(await redis.hexists(store.keys.item(b.id), 'waiting_for_slot_since')).toBe(0);

    const missing = await store.markMissing(a.id, T0 + 5 * HOUR);
    expect(missing).toMatchObject({ status: 'missing', bytes: 0, missing_since: T0 + 5 * HOUR });
    expect((await store.stats()).bytes).toBe(300);
    await expect(store.markMissing(b.id)).rejects.toThrow(/is recording, expected completed or failed/);
    const found = await store.markFound(a.id, 3999);
    expect(found).toMatchObject({ status: 'completed', bytes: 3999, missing_since: null });

    await expect(store.delete(b.id, { expectStatus: ['completed', 'failed', 'missing'] })).rejects.toThrow(
      RecordingStatusConflictError,
    );
    expect(await store.get(b.id)).not.toBeNull();
    const deleted = await store.delete(a.id);
    expect(deleted).toMatchObject({ id: a.id, bytes: 3999 });
    expect(await store.delete(a.id)).toBeNull();
    expect(await store.get(a.id)).toBeNull();
    expect(await redis.hgetall(store.keys.totals())).toEqual({
      count: '1',
      bytes: '300',
      'count:CAM2': '1',
      'bytes:CAM2': '300',
    });
    for (const status of ['recording', 'completed', 'failed', 'missing'] as const) {
      expect(await redis.zscore(store.keys.byStatus(status), a.id)).toBeNull();
      expect(await redis.zscore(store.keys.byCameraStatus('CAM1', status), a.id)).toBeNull();
    }
    expect(await redis.exists(store.keys.byCamera('CAM1'))).toBe(0);
  });

  it('deleteMany: one outcome per id, as delete() would have it; a failing id stops no other', async () => {
    const done = {
      status: 'completed',
      video_status: 'completed',
      ended_at: T0,
      duration_seconds: 1,
      stop_reason: 'x',
    } as const;
    const [old1, old2, live] = await Promise.all(
      [0, 1, 2].map((i) => store.create({ device_sn: 'CAM1', started_at: T0 + i * 1000, bytes: 10 })),
    );
    await store.finish(old1!.id, done);
    await store.finish(old2!.id, done);
    const other = await store.create({ device_sn: 'CAM3', started_at: T0, bytes: 7 });
    await store.finish(other.id, { ...done, status: 'failed', video_status: 'failed' });
    const gone = recordingId('CAM2', T0);
    const outcomes = await store.deleteMany([old1!.id, live!.id, gone, 'not an id', other.id, old2!.id], {
      expectStatus: ['completed', 'failed', 'missing'],
    });
    // A deleted entry's outcome is the bytes it held; one that was not there, null.
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : o.reason.constructor.name))).toEqual([
      10,
      'RecordingStatusConflictError',
      null,
      'InvalidRecordingInputError',
      7,
      10,
    ]);
    expect(await store.get(old1!.id)).toBeNull();
    expect(await store.get(old2!.id)).toBeNull();
    expect(await store.get(live!.id)).toMatchObject({ status: 'recording' });
    // Every index lost the deleted ones, and a camera with none left is gone from the totals.
    expect(await redis.hgetall(store.keys.totals())).toEqual({
      count: '1',
      bytes: '10',
      'count:CAM1': '1',
      'bytes:CAM1': '10',
    });
    expect(await redis.zrange(store.keys.byStart(), 0, -1)).toEqual([live!.id]);
    expect(await redis.zrange(store.keys.byCamera('CAM1'), 0, -1)).toEqual([live!.id]);
    expect(await redis.exists(store.keys.byCamera('CAM3'), store.keys.byCameraStatus('CAM3', 'failed'))).toBe(
      0,
    );
    expect(await redis.zrange(store.keys.byCameraStatus('CAM1', 'recording'), 0, -1)).toEqual([live!.id]);
    for (const status of ['completed', 'failed'] as const) {
      expect(await redis.exists(store.keys.byStatus(status), store.keys.byCameraStatus('CAM1', status))).toBe(
        0,
      );
    }
    expect(await store.deleteMany([])).toEqual([]);
  });

  it('deleteMany sends the script itself when Redis does not have it cached', async () => {
    const a = await store.create({ device_sn: 'CAM1', started_at: T0 });
    await redis.script('FLUSH');
    expect(await store.deleteMany([a.id])).toEqual([{ status: 'fulfilled', value: 0 }]);
    expect(await store.get(a.id)).toBeNull();
  });

  it('stays consistent under concurrent writers', async () => {
    const recs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.create({ device_sn: `CAM${i % 4}`, started_at: T0 + i * 1000 }),
      ),
    );
    await Promise.all(
      recs.flatMap((r, i) => [
        store.update(r.id, { bytes: 100 + i }),
        store.update(r.id, { restarts: 1 }),
        i % 2 === 0
          ? store.finish(r.id, {
              status: 'completed',
              video_status: 'completed',
              ended_at: T0 + HOUR,
              duration_seconds: 10,
              stop_reason: 'motion_timeout',
            })
          : store.delete(r.id),
      ]),
    );
    const kept = await store.getMany(recs.map((r) => r.id));
    expect(kept).toHaveLength(10);
    const stats = await store.stats();
    expect(stats.count).toBe(10);
    expect(stats.bytes).toBe(kept.reduce((sum, r) => sum + r.bytes, 0));
    expect(stats.by_status).toEqual({ recording: 0, completed: 10, failed: 0, missing: 0 });
    for (const cam of stats.cameras) {
      const mine = kept.filter((r) => r.device_sn === cam.device_sn);
      expect(cam.count).toBe(mine.length);
      expect(cam.bytes).toBe(mine.reduce((sum, r) => sum + r.bytes, 0));
    }
  });

  it('reads a hash with unknown fields and absent optional ones; refuses a corrupt one', async () => {
    const id = recordingId('CAM9', T0);
    await redis.hset(store.keys.item(id), {
      device_sn: 'CAM9',
      started_at: String(T0),
      created_at: String(T0),
      updated_at: String(T0),
      status: 'completed',
      video_status: 'completed',
      field_from_a_newer_version: 'x',
    });
    expect(await store.get(id)).toMatchObject({ id, bytes: 0, restarts: 0, codec: null, source: 'recorder' });
    await redis.hset(store.keys.item(id), 'status', 'exploded');
    await expect(store.get(id)).rejects.toThrow(CorruptRecordingError);
    await expect(store.get(id)).rejects.toThrow(/status: Invalid option/);
  });
});

describe('RecordingStore reads', () => {
  // 3 cameras × 40 recordings; every start time is shared by all three cameras, so pages must cut
  // through ties without repeating or losing any.
  const cameras = ['CAMA', 'CAMB', 'CAMC'];
  const starts = Array.from({ length: 40 }, (_, i) => T0 + i * HOUR);

  beforeEach(async () => {
    for (const [i, start] of starts.entries()) {
      for (const [c, sn] of cameras.entries()) {
        const rec = await store.create({ device_sn: sn, started_at: start, bytes: 10 * (c + 1) });
        if ((i + c) % 3 === 0) continue;
        await store.finish(rec.id, {
          status: (i + c) % 3 === 1 ? 'completed' : 'failed',
          video_status: (i + c) % 3 === 1 ? 'completed' : 'failed',
          ended_at: start + 1000,
          duration_seconds: 1,
          stop_reason: 'motion_timeout',
        });
      }
    }
  });

  const expected = (filter: (i: number, c: number) => boolean) =>
    starts.flatMap((start, i) =>
      cameras.flatMap((sn, c) => (filter(i, c) ? [{ id: recordingId(sn, start), started_at: start }] : [])),
    );

  it('pages through everything in both orders, ties included, by cursor', async () => {
    const all = expected(() => true);
    expect(await allPages({ order: 'asc', limit: 7 })).toEqual(all);
    expect(await allPages({ order: 'desc', limit: 2 })).toEqual([...all].reverse());
    const first = await store.list({ limit: 5 });
    expect(first.items.map((r) => r.id)).toEqual(
      [...all]
        .reverse()
        .slice(0, 5)
        .map((r) => r.id),
    );
    expect(first.next_cursor).toMatch(/^\d+:CAM/);
  });

  it('filters by camera, status (one or several, merged in order) and time range', async () => {
    expect(await allPages({ device_sn: 'CAMB', order: 'asc', limit: 6 })).toEqual(
      expected((_i, c) => c === 1),
    );
    expect(await allPages({ status: 'recording', order: 'asc', limit: 4 })).toEqual(
      expected((i, c) => (i + c) % 3 === 0),
    );
    expect(await allPages({ status: ['completed', 'failed'], order: 'asc', limit: 5 })).toEqual(
      expected((i, c) => (i + c) % 3 !== 0),
    );
    expect(
      await allPages({
        device_sn: 'CAMC',
        status: ['failed'],
        from: starts[10],
        to: starts[30],
        order: 'desc',
        limit: 3,
      }),
    ).toEqual(expected((i, c) => c === 2 && (i + c) % 3 === 2 && i >= 10 && i < 30).reverse());
    const inProgress = await store.listInProgress();
    expect(inProgress.map((r) => r.id)).toEqual(expected((i, c) => (i + c) % 3 === 0).map((r) => r.id));
    expect(inProgress.every((r) => r.status === 'recording')).toBe(true);
  });

  it('a page reads only its own slice of the sorted set', async () => {
    // A connection that notes every command it sends (pipelines included): a page of 5 must be a
    // bounded ZRANGE … LIMIT plus one HGETALL per item, never a full read of the index.
    const watched = new Redis(config.REDIS_URL);
    await watched.ping(); // connected: no command goes through the offline queue (sent twice)
    const sent: string[][] = [];
    const send = watched.sendCommand.bind(watched);
    watched.sendCommand = (command, ...rest) => {
      sent.push([command.name, ...command.args.map(String)]);
      return send(command, ...rest);
    };
    const paging = new RecordingStore(watched, config);
    const page = await paging.list({ status: 'completed', order: 'asc', limit: 5 });
    await paging.list({ status: 'completed', order: 'asc', limit: 5, cursor: page.next_cursor });
    await watched.quit();
    const ranges = sent.filter((c) => c[0] === 'zrange');
    expect(ranges).toHaveLength(2);
    // LIMIT 0 (page + 1 + recordings sharing the cursor's start time: 3 cameras at most here).
    for (const range of ranges) {
      expect(range.slice(4, 7)).toEqual(['BYSCORE', 'LIMIT', '0']);
      expect(Number(range[7])).toBeLessThanOrEqual(5 + 1 + 3);
    }
    expect(sent.filter((c) => c[0] === 'hgetall')).toHaveLength(10);
    expect(sent.map((c) => c[0]).sort()).toEqual([
      ...Array(10).fill('hgetall'),
      'quit',
      'zcount',
      'zrange',
      'zrange',
    ]);
  });

  it('reports counts, bytes and oldest/newest overall and per camera', async () => {
    const stats = await store.stats();
    const recording = expected((i, c) => (i + c) % 3 === 0).length;
    expect(stats).toMatchObject({
      count: 120,
      bytes: 40 * (10 + 20 + 30),
      by_status: { recording, completed: 40, failed: 40, missing: 0 },
      oldest: { id: recordingId('CAMA', starts[0]!), started_at: starts[0] },
      newest: { id: recordingId('CAMC', starts[39]!), started_at: starts[39] },
    });
    expect(stats.cameras).toEqual(
      cameras.map((sn, c) => ({
        device_sn: sn,
        count: 40,
        bytes: 400 * (c + 1),
        oldest: { id: recordingId(sn, starts[0]!), started_at: starts[0] },
        newest: { id: recordingId(sn, starts[39]!), started_at: starts[39] },
      })),
    );
  });

  it('rejects a cursor it did not make and a limit out of range', async () => {
    await expect(store.list({ cursor: 'abc' })).rejects.toThrow(/cursor: not a cursor this listing returned/);
    await expect(store.list({ limit: 0 })).rejects.toThrow(InvalidRecordingInputError);
    await expect(store.list({ status: 'bogus' as never })).rejects.toThrow(/invalid recording query: status/);
  });
});
