import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkRecordingSignature } from '@eufy-relay/contracts';
import { DeviceRegistry } from '@eufy-relay/devices';
import { RecordingStore } from '@eufy-relay/recordings';
import { recordingListBody, recordingView, storageBody } from '../src/recordings';
import { request, startApi, type TestApi } from './helpers';

const A = 'T8113P0223000002';
const B = 'T8400P1022000003';
const DAY = 24 * 3600 * 1000;
const SECRET = 'url-signing-secret-0123456789';

let t: TestApi;
let store: RecordingStore;
/** Every recording made below, newest first, as the listing orders them. */
let all: { id: string; device_sn: string; started_at: number; status: string }[] = [];
const base = Date.parse('2026-03-01T12:00:00Z');

beforeAll(async () => {
  t = await startApi('recordings', { URL_SIGNING_SECRET: SECRET, RETENTION_DAYS: '30' });
  store = new RecordingStore(t.redis, t.config);
  // Two cameras, ten finished recordings each a day apart, two of them failed, one of them at the
  // same second on both cameras, and one recording in progress now.
  for (let i = 0; i < 10; i++) {
    for (const sn of [A, B]) {
      const started = base + i * DAY + (sn === B && i !== 4 ? 60_000 : 0);
      const r = await store.create({ device_sn: sn, started_at: started });
      const failed = sn === B && (i === 2 || i === 7);
      await store.finish(r.id, {
        status: failed ? 'failed' : 'completed',
        video_status: failed ? 'failed' : 'completed',
        failure_reason: failed ? 'stream ended' : null,
        ended_at: started + 30_000,
        duration_seconds: 30,
        stop_reason: failed ? 'stream_failed' : 'motion_timeout',
        bytes: 1000 * (i + 1),
        codec: 'h264',
        width: 1920,
        height: 1080,
      });
      all.push({ id: r.id, device_sn: sn, started_at: started, status: failed ? 'failed' : 'completed' });
    }
  }
  const live = await store.create({ device_sn: A, started_at: Date.now() - 5000 });
  writeFileSync(path.join(t.config.RECORDINGS_DIR, `${live.id}.mp4`), Buffer.alloc(12_345));
  all.push({ id: live.id, device_sn: A, started_at: live.started_at, status: 'recording' });
  all = all.sort((x, y) => y.started_at - x.started_at || (y.id < x.id ? -1 : 1));
  await new DeviceRegistry(t.redis, t.config).updateDevice(A, { name: 'Driveway', is_camera: true });
});
afterAll(() => t.close());

const list = async (query: string) => {
  const r = await request(t.api.url, `/recordings${query}`);
  expect({ query, status: r.status }).toEqual({ query, status: 200 });
  return recordingListBody.parse(r.json());
};

describe('GET /recordings', () => {
  it('lists newest first with signed URLs, sizes, durations and statuses', async () => {
    const page = await list('');
    expect(page.items.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expect(page.next_cursor).toBeNull();
    const live = page.items[0]!;
    expect(live).toMatchObject({
      status: 'recording',
      video_status: 'recording',
      bytes: 12_345,
      ended_at: null,
    });
    expect(live.duration_seconds).toBeGreaterThanOrEqual(5);
    const done = page.items.find((r) => r.id === `${A}_20260310_120000`)!;
    expect(done).toMatchObject({
      device_sn: A,
      status: 'completed',
      started_at: '2026-03-10T12:00:00.000Z',
      ended_at: '2026-03-10T12:00:30.000Z',
      duration_seconds: 30,
      bytes: 10_000,
      codec: 'h264',
      width: 1920,
      stop_reason: 'motion_timeout',
    });
    const url = new URL(done.url);
    expect(url.origin + url.pathname).toBe(`https://relay.example.com/recordings/${done.id}.mp4`);
    expect(checkRecordingSignature(done.id, Object.fromEntries(url.searchParams), SECRET)).toBe('valid');
    expect(new URL(done.thumbnail_url).pathname).toBe(`/recordings/${done.id}.jpg`);
  });

  it('filters by camera, status (one or several) and start time, in either order', async () => {
    expect((await list(`?camera=${B}`)).items.map((r) => r.id)).toEqual(
      all.filter((r) => r.device_sn === B).map((r) => r.id),
    );
    expect((await list('?status=failed')).items.map((r) => r.id)).toEqual([
      `${B}_20260308_120100`,
      `${B}_20260303_120100`,
    ]);
    expect((await list('?status=failed,recording')).items.map((r) => r.status)).toEqual([
      'recording',
      'failed',
      'failed',
    ]);
    const window = await list('?from=2026-03-03T00:00:00Z&to=2026-03-05T12:00:30Z&order=asc');
    expect(window.items.map((r) => r.id)).toEqual([
      `${A}_20260303_120000`,
      `${B}_20260303_120100`,
      `${A}_20260304_120000`,
      `${B}_20260304_120100`,
      `${A}_20260305_120000`,
      `${B}_20260305_120000`,
    ]);
    const offset = await list(
      `?camera=${A}&from=${encodeURIComponent('2026-03-10T13:00:00+01:00')}&status=completed`,
    );
    expect(offset.items.map((r) => r.id)).toEqual([`${A}_20260310_120000`]);
  });

  it('pages with a cursor without repeating or skipping, even on equal start times', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { id: string }[]; next_cursor: string | null } = await list(
        `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      seen.push(...page.items.map((r) => r.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all.map((r) => r.id));
    expect(pages).toBe(Math.ceil(all.length / 3));
  });

  it.each([
    ['?limit=0', 'limit'],
    ['?limit=201', 'limit'],
    ['?limit=abc', 'limit'],
    ['?camera=bad_serial', 'camera'],
    ['?status=done', 'status'],
    ['?status=', 'status'],
    ['?from=yesterday', 'from'],
    ['?from=2026-03-05T00:00:00Z&to=2026-03-04T00:00:00Z', 'from'],
    ['?order=random', 'order'],
    ['?camera=A&camera=B', 'camera'],
    ['?device=T1', '(root)'],
    ['?cursor=not-a-cursor', 'cursor'],
  ])('%s is a 400 naming %s', async (query, field) => {
    const r = await request(t.api.url, `/recordings${query}`);
    expect(r.status).toBe(400);
    const error = r.json().error;
    expect(error.code).toBe('invalid_query');
    expect(error.details.some((d: string) => d.startsWith(`${field}:`) || d.startsWith(`${field}.`))).toBe(
      true,
    );
  });
});

describe('GET /recordings/{id}', () => {
  it('gives one recording, 404 for an unknown id and 400 for a malformed one', async () => {
    const id = `${B}_20260303_120100`;
    const r = await request(t.api.url, `/recordings/${id}`);
    expect(r.status).toBe(200);
    expect(recordingView.parse(r.json())).toMatchObject({
      id,
      status: 'failed',
      failure_reason: 'stream ended',
    });
    const unknown = await request(t.api.url, `/recordings/${B}_20200101_000000`);
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('recording_not_found');
    expect((await request(t.api.url, '/recordings/..%2fsecret')).status).toBe(400);
  });
});

describe('GET /storage', () => {
  it('gives disk figures, totals per camera, oldest and newest, and the retention window', async () => {
    const r = await request(t.api.url, '/storage');
    expect(r.status).toBe(200);
    const body = storageBody.parse(r.json());
    expect(body.disk.total_bytes).toBeGreaterThan(0);
    expect(body.disk.free_bytes).toBeGreaterThan(0);
    expect(body.disk.path).toBe(t.config.RECORDINGS_DIR);
    expect(body.recordings).toEqual({
      count: 21,
      bytes: 2 * 55_000,
      by_status: { recording: 1, completed: 18, failed: 2, missing: 0 },
      oldest: { id: `${A}_20260301_120000`, started_at: '2026-03-01T12:00:00.000Z' },
      newest: { id: all[0]!.id, started_at: new Date(all[0]!.started_at).toISOString() },
    });
    expect(body.cameras).toEqual([
      expect.objectContaining({ device_sn: A, name: 'Driveway', count: 11, bytes: 55_000 }),
      expect.objectContaining({
        device_sn: B,
        name: null,
        count: 10,
        newest: { id: `${B}_20260310_120100`, started_at: '2026-03-10T12:01:00.000Z' },
      }),
    ]);
    expect(body.retention.days).toBe(30);
    expect(Date.parse(body.retention.expires_before)).toBeLessThan(Date.now() - 29 * DAY);
  });
});
