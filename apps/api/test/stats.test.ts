import { DeviceRegistry } from '@eufy-relay/devices';
import { History, utcDay } from '@eufy-relay/history';
import { addStorageSample } from '@eufy-relay/janitor';
import { RecordingStore } from '@eufy-relay/recordings';
import { DeliveryLog } from '@eufy-relay/webhooks';
import {
  cameraStatsBody,
  forecastStorage,
  recordingStatsBody,
  storageStatsBody,
  webhookStatsBody,
} from '../src/stats';
import { bearer, request, startApi, TOKEN, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const OTHER = 'T8113P0223000003';
const DAY = 86_400_000;
const HOUR = 3_600_000;
let t: TestApi;
const now = Date.now();
// Far enough inside today (UTC) that "today" and "yesterday" below do not straddle midnight.
const today = Math.max(Date.parse(utcDay(now)) + 60_000, now - HOUR);

const get = async (path: string) => {
  const r = await request(t.api.url, path, { headers: bearer() });
  expect(r.status).toBe(200);
  return r.json();
};

beforeAll(async () => {
  t = await startApi('stats', { API_TOKEN: TOKEN, MIN_FREE_DISK_BYTES: '1000', RETENTION_DAYS: '60' });
  const devices = new DeviceRegistry(t.redis, t.config);
  await devices.updateDevice(
    CAMERA,
    { name: 'Driveway', is_camera: true, online: true, battery: 80 },
    today - 3 * DAY,
  );
  await devices.updateDevice(CAMERA, { online: false, battery: 80 }, today - 2 * DAY);
  await devices.updateDevice(CAMERA, { online: true, battery: 75 }, today - DAY);
  await devices.updateDevice(OTHER, { name: 'Garden', is_camera: true, online: true }, today - 40 * DAY);

  const store = new RecordingStore(t.redis, t.config);
  const finished = async (sn: string, startedAt: number, seconds: number, bytes: number) => {
    const r = await store.create({ device_sn: sn, started_at: startedAt });
    await store.update(r.id, { bytes });
    await store.finish(r.id, {
      status: 'completed',
      video_status: 'completed',
      ended_at: startedAt + seconds * 1000,
      duration_seconds: seconds,
      stop_reason: 'motion_timeout',
    });
  };
  await finished(CAMERA, today, 1800, 3_000_000);
  await finished(CAMERA, today + 1000, 1800, 1_000_000);
  await finished(CAMERA, today - DAY, 3600, 2_000_000);
  await finished(OTHER, today - DAY, 360, 500_000);
  // In progress: not counted until it finishes.
  await store.create({ device_sn: OTHER, started_at: today + 2000 });

  const log = new DeliveryLog(t.redis, t.config);
  const attempt = { attempt: 1, event: 'motion_detected', error: null };
  const at = (ms: number) => new Date(ms).toISOString();
  await log.record('a', {
    ...attempt,
    at: at(today),
    outcome: 'delivered',
    status_code: 200,
    latency_ms: 100,
  });
  await log.record('b', {
    ...attempt,
    at: at(today),
    outcome: 'delivered',
    status_code: 200,
    latency_ms: 300,
  });
  await log.record('c', { ...attempt, at: at(today), outcome: 'failed', status_code: 500, latency_ms: 2000 });
  await log.record('d', {
    ...attempt,
    at: at(today - DAY),
    outcome: 'rate_limited',
    status_code: 429,
    latency_ms: 50,
  });

  const history = new History(t.redis, t.config);
  const sample = (ms: number, recordings: number) => ({
    at: ms,
    recordings_bytes: recordings,
    disk_used_bytes: 10_000_000 + recordings,
    disk_free_bytes: 90_000_000 - recordings,
    disk_total_bytes: 100_000_000,
  });
  await addStorageSample(history, t.redis.multi(), sample(today - 2 * DAY, 1_000_000)).exec();
  await addStorageSample(history, t.redis.multi(), sample(today - DAY, 2_500_000)).exec();
});
afterAll(() => t.close());

describe('GET /stats/recordings', () => {
  it('counts finished recordings and hours per camera and day, 30 days by default', async () => {
    const body = recordingStatsBody.parse(await get('/stats/recordings'));
    expect(body.days).toHaveLength(30);
    expect(body.days.at(-1)).toBe(utcDay(now));
    const [driveway, garden] = body.cameras;
    expect(driveway).toMatchObject({
      device_sn: CAMERA,
      name: 'Driveway',
      total_recordings: 3,
      total_hours: 2,
    });
    expect(driveway!.recordings.slice(-2)).toEqual([1, 2]);
    expect(driveway!.hours.slice(-2)).toEqual([1, 1]);
    expect(driveway!.bytes.slice(-2)).toEqual([2_000_000, 4_000_000]);
    expect(driveway!.recordings.slice(0, -2).every((n) => n === 0)).toBe(true);
    expect(garden).toMatchObject({ device_sn: OTHER, total_recordings: 1, total_hours: 0.1 });
    expect(recordingStatsBody.parse(await get('/stats/recordings?days=7')).days).toHaveLength(7);
  });

  it('refuses a window it cannot show', async () => {
    for (const days of ['0', '367', 'x']) {
      const r = await request(t.api.url, `/stats/recordings?days=${days}`, { headers: bearer() });
      expect(r.status).toBe(400);
      expect(r.json().error.code).toBe('invalid_query');
    }
    expect((await request(t.api.url, '/stats/recordings')).status).toBe(401);
  });
});

describe('GET /stats/webhooks', () => {
  it('counts attempts per day by outcome, with their latency', async () => {
    const body = webhookStatsBody.parse(await get('/stats/webhooks'));
    expect(body.outcomes.delivered!.slice(-2)).toEqual([0, 2]);
    expect(body.outcomes.failed!.slice(-2)).toEqual([0, 1]);
    expect(body.outcomes.rate_limited!.slice(-2)).toEqual([1, 0]);
    expect(body.totals).toEqual({ delivered: 2, failed: 1, rate_limited: 1, skipped: 0 });
    expect(body.latency.count.slice(-2)).toEqual([1, 3]);
    expect(body.latency.mean_ms.slice(-2)).toEqual([50, 800]);
    // 95 % of today's three attempts (0.1, 0.3, 2 s) fell under the 2.5 s bound.
    expect(body.latency.p95_upper_ms.slice(-2)).toEqual([50, 2500]);
    expect(body.latency.mean_ms[0]).toBeNull();
  });
});

describe('GET /stats/cameras', () => {
  it('gives each camera its online changes and battery levels since the window began', async () => {
    const body = cameraStatsBody.parse(await get('/stats/cameras?days=30'));
    const driveway = body.cameras.find((c) => c.device_sn === CAMERA)!;
    expect(driveway.online.map((s) => s.online)).toEqual([true, false, true]);
    expect(driveway.online.map((s) => Date.parse(s.at))).toEqual([
      today - 3 * DAY,
      today - 2 * DAY,
      today - DAY,
    ]);
    expect(driveway.battery.map((s) => s.level)).toEqual([80, 75]);
    // Online since before the window: the state it started with is its first point.
    const garden = body.cameras.find((c) => c.device_sn === OTHER)!;
    expect(garden.online).toEqual([{ at: new Date(today - 40 * DAY).toISOString(), online: true }]);
    expect(garden.battery).toEqual([]);
  });
});

describe('GET /stats/storage', () => {
  it('has the janitor samples, then the disk now, and a forecast', async () => {
    const body = storageStatsBody.parse(await get('/stats/storage'));
    expect(body.samples).toHaveLength(3);
    expect(body.samples.slice(0, 2).map((s) => s.recordings_bytes)).toEqual([1_000_000, 2_500_000]);
    // The last one is now: the index holds 6.5 MB of recordings (the one in progress has none yet).
    expect(body.samples[2]!.recordings_bytes).toBe(6_500_000);
    expect(Date.now() - Date.parse(body.samples[2]!.at)).toBeLessThan(60_000);
    expect(body).toMatchObject({ min_free_bytes: 1000, retention_days: 60 });
    expect(body.growth_bytes_per_day).toBeGreaterThan(0);
    expect(body.forecast.length).toBeGreaterThan(10);
  });
});

describe('forecastStorage', () => {
  const base = { recordingsBytes: 0, freeBytes: 101e9, minFreeBytes: 1e9, retentionDays: 90 };
  it('is the free room over the daily growth when retention would not stop it', () => {
    expect(forecastStorage({ ...base, growthBytesPerDay: 4e9 })).toMatchObject({ days_until_full: 25 });
  });
  it('is null when retention deletes recordings first, or nothing grows', () => {
    expect(forecastStorage({ ...base, growthBytesPerDay: 1e9 }).days_until_full).toBeNull();
    expect(forecastStorage({ ...base, growthBytesPerDay: 0 }).days_until_full).toBeNull();
    // What is recorded already counts toward the steady state.
    expect(
      forecastStorage({ ...base, growthBytesPerDay: 1.2e9, recordingsBytes: 50e9 }).days_until_full,
    ).toBeNull();
    expect(forecastStorage({ ...base, growthBytesPerDay: 1.2e9 }).days_until_full).toBeCloseTo(83.3, 1);
  });
  it('is 0 when free space is already under MIN_FREE_DISK_BYTES', () => {
    expect(forecastStorage({ ...base, freeBytes: 5e8, growthBytesPerDay: 1e9 }).days_until_full).toBe(0);
  });
});
