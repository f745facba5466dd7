import { loadConfig } from '@eufy-relay/config';
import { addJob, motionSignalJob, openQueue, QUEUES, type JobQueue } from '@eufy-relay/contracts';
import { DeviceRegistry, HeartbeatStore, type BridgeHeartbeat } from '@eufy-relay/devices';
import { RecordingStore } from '@eufy-relay/recordings';
import { DeliveryLog } from '@eufy-relay/webhooks';
import { rmSync } from 'node:fs';
import { start } from '../src';
import { devicesBody } from '../src/devices';
import { healthBody } from '../src/health';
import { request, startApi, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const heartbeat = (patch: Partial<BridgeHeartbeat> = {}): BridgeHeartbeat => ({
  connected: true,
  server_version: '1.9.1',
  schema_version: 21,
  driver_connected: true,
  push_connected: true,
  problems: [],
  last_event_at: Date.now(),
  updated_at: Date.now(),
  ...patch,
});

let t: TestApi;
let heartbeats: HeartbeatStore;
let registry: DeviceRegistry;
let motion: JobQueue<typeof motionSignalJob>;

beforeAll(async () => {
  t = await startApi('status');
  heartbeats = new HeartbeatStore(t.redis, t.config);
  registry = new DeviceRegistry(t.redis, t.config);
  motion = openQueue(motionSignalJob, { connection: t.redis, prefix: t.config.REDIS_PREFIX });
});
afterAll(async () => {
  await motion.obliterate({ force: true });
  await motion.close();
  await t.close();
});

const get = (p: string) => request(t.api.url, p);

describe('GET /health', () => {
  it('is 200 with every check passing', async () => {
    await heartbeats.write(heartbeat(), 60_000);
    const r = await get('/health');
    expect(r.status).toBe(200);
    const body = healthBody.parse(r.json());
    expect(body).toMatchObject({ status: 'ok', problems: [] });
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.eufy_ws).toMatchObject({ ok: true, connected: true, server_version: '1.9.1' });
    expect(body.checks.disk.ok).toBe(true);
    expect(body.checks.disk.total_bytes).toBeGreaterThan(0);
    expect(Object.keys(body.checks.queues.depths).sort()).toEqual(Object.values(QUEUES).sort());
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('reports queue depths', async () => {
    for (let i = 0; i < 3; i++) {
      await addJob(motion, motionSignalJob, {
        device_sn: CAMERA,
        kind: 'motion',
        state: true,
        at: new Date().toISOString(),
        source_event: 'motion detected',
      });
    }
    const body = healthBody.parse((await get('/health')).json());
    expect(body.checks.queues.depths[QUEUES.motion]).toMatchObject({ waiting: 3, active: 0, failed: 0 });
  });

  it('is 503 with the reason when ingest reports eufy-security-ws problems', async () => {
    await heartbeats.write(
      heartbeat({ connected: true, problems: ['captcha_required', 'push_disconnected'] }),
      60_000,
    );
    const r = await get('/health');
    expect(r.status).toBe(503);
    expect(r.json().problems).toEqual(['eufy_ws_captcha_required', 'eufy_ws_push_disconnected']);
    expect(r.json().details).toEqual([
      'eufy-security-ws: captcha_required',
      'eufy-security-ws: push_disconnected',
    ]);

    await heartbeats.write(heartbeat({ connected: false, problems: ['unreachable'] }), 60_000);
    const down = await get('/health');
    expect(down.status).toBe(503);
    expect(down.json().problems).toEqual(['eufy_ws_not_connected', 'eufy_ws_unreachable']);
    expect(down.json().details).toEqual([
      'eufy-security-ws: ingest is not connected to it',
      'eufy-security-ws: unreachable',
    ]);
    expect(down.json().checks.eufy_ws).toMatchObject({ ok: false, connected: false });
  });

  it('is 503 when ingest has no heartbeat (not running)', async () => {
    await t.redis.del(`${t.config.REDIS_PREFIX}:heartbeat:ingest`);
    const r = await get('/health');
    expect(r.status).toBe(503);
    expect(r.json().problems).toEqual(['ingest_no_heartbeat']);
    expect(r.json().details).toEqual([
      'ingest: no heartbeat in Redis (ingest is not running or cannot reach Redis)',
    ]);
    expect(r.json().checks.eufy_ws).toMatchObject({
      ok: false,
      connected: null,
      ingest_heartbeat_age_ms: null,
    });
  });

  it('is 503 when the disk has less free space than MIN_FREE_DISK_BYTES or is missing', async () => {
    const full = await startApi('status-disk', { MIN_FREE_DISK_BYTES: String(Number.MAX_SAFE_INTEGER) });
    await new HeartbeatStore(full.redis, full.config).write(heartbeat(), 60_000);
    const r = await request(full.api.url, '/health');
    expect(r.status).toBe(503);
    expect(r.json().problems).toEqual(['disk_low']);
    expect(r.json().details).toEqual([
      expect.stringMatching(/^disk: \d+ bytes free, under MIN_FREE_DISK_BYTES \(9007199254740991\)$/),
    ]);
    await full.close();

    const missing = await startApi('status-nodisk');
    rmSync(missing.config.RECORDINGS_DIR, { recursive: true });
    await new HeartbeatStore(missing.redis, missing.config).write(heartbeat(), 60_000);
    const m = await request(missing.api.url, '/health');
    expect(m.status).toBe(503);
    expect(m.json().problems).toEqual(['disk_unavailable']);
    expect(m.json().details).toEqual([
      `disk: ${missing.config.RECORDINGS_DIR}: ENOENT: no such file or directory, statfs '${missing.config.RECORDINGS_DIR}'`,
    ]);
    await missing.close();
  });

  it('is 503 naming Redis when Redis is unreachable, while the liveness probe stays 200', async () => {
    const api = await start(
      loadConfig({
        env: {
          REDIS_URL: 'redis://127.0.0.1:1',
          REDIS_PREFIX: `eufy-relay-test-api-noredis-${process.pid}`,
          HOST: '127.0.0.1',
          LOG_LEVEL: 'silent',
          MIN_FREE_DISK_BYTES: '0',
          RECORDINGS_DIR: t.config.RECORDINGS_DIR,
        },
      }),
      { port: 0 },
    );
    try {
      const r = await request(api.url, '/health');
      expect(r.status).toBe(503);
      const body = healthBody.parse(r.json());
      expect(body.checks.redis).toMatchObject({ ok: false, latency_ms: null });
      expect(body.problems[0]).toBe('redis_unreachable');
      expect(body.details[0]).toMatch(/^redis: /);
      expect(body.checks.queues.ok).toBe(false);
      expect((await request(api.url, '/health/live')).status).toBe(200);
      // A route that needs Redis fails as a JSON 500 without internals.
      const devices = await request(api.url, '/devices');
      expect(devices.status).toBe(500);
      expect(devices.json()).toEqual({
        error: { status: 500, code: 'internal_error', message: 'internal error (logged on the server)' },
      });
    } finally {
      await api.stop();
    }
  });
});

describe('GET /devices', () => {
  it('lists the registry with recording state and snooze', async () => {
    const now = Date.now();
    await registry.updateDevice(CAMERA, {
      name: 'Driveway',
      is_camera: true,
      online: true,
      battery: 76,
      station_serial: 'T8010P2321000001',
      recording_id: `${CAMERA}_20250130_143022`,
      last_motion_at: now - 1000,
    });
    await registry.updateDevice('T8400P1022000003', {
      name: 'Hall',
      is_camera: true,
      online: false,
      snoozed_until: now + 3600_000,
    });
    await registry.updateStation('T8010P2321000001', { name: 'HomeBase', connected: true });
    const r = await get('/devices');
    expect(r.status).toBe(200);
    const body = devicesBody.parse(r.json());
    expect(body.devices.map((d) => d.serial)).toEqual([CAMERA, 'T8400P1022000003']);
    expect(body.devices[0]).toMatchObject({
      name: 'Driveway',
      online: true,
      battery: 76,
      recording: true,
      recording_id: `${CAMERA}_20250130_143022`,
      recording_url: `https://relay.example.com/recordings/${CAMERA}_20250130_143022.mp4`,
      snoozed: false,
      snoozed_until: null,
      last_motion_at: new Date(now - 1000).toISOString(),
    });
    expect(body.devices[1]).toMatchObject({
      recording: false,
      recording_url: null,
      snoozed: true,
      snoozed_until: new Date(now + 3600_000).toISOString(),
    });
    expect(body.stations).toEqual([
      {
        serial: 'T8010P2321000001',
        name: 'HomeBase',
        model: null,
        connected: true,
        updated_at: expect.any(String),
      },
    ]);
  });
});

describe('GET /metrics', () => {
  it('exposes queue depths, bridge state, active recordings, deliveries, disk and process metrics', async () => {
    await new RecordingStore(t.redis, t.config).create({ device_sn: CAMERA, started_at: Date.now() });
    // As a notifier records its attempts: two failures, then the delivery.
    const log = new DeliveryLog(t.redis, t.config);
    for (const [n, outcome] of [
      [1, 'failed'],
      [2, 'failed'],
      [3, 'delivered'],
    ] as const)
      await log.record('motion_detected.metrics', {
        attempt: n,
        at: new Date().toISOString(),
        event: 'motion_detected',
        outcome,
        status_code: outcome === 'delivered' ? 200 : 500,
        latency_ms: 5,
        error: null,
      });
    await heartbeats.write(heartbeat({ problems: ['push_disconnected'] }), 60_000);
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const line = (name: string) =>
      r.text
        .split('\n')
        .find((l) => l.startsWith(name))
        ?.split(' ')
        .pop();
    expect(line('eufy_relay_redis_up')).toBe('1');
    expect(line(`eufy_relay_queue_jobs{queue="${QUEUES.motion}",state="waiting"}`)).toBe('3');
    expect(line(`eufy_relay_queue_jobs{queue="${QUEUES.webhooks}",state="failed"}`)).toBe('0');
    expect(line('eufy_relay_eufy_ws_connected')).toBe('1');
    expect(line('eufy_relay_eufy_ws_problem{problem="push_disconnected"}')).toBe('1');
    expect(line('eufy_relay_eufy_ws_problem{problem="captcha_required"}')).toBe('0');
    expect(line('eufy_relay_recordings{status="recording"}')).toBe('1');
    expect(line('eufy_relay_recordings{status="completed"}')).toBe('0');
    expect(line('eufy_relay_recordings_bytes')).toBe('0');
    expect(r.text).toContain('# TYPE eufy_relay_webhook_deliveries_total counter');
    expect(line('eufy_relay_webhook_deliveries_total{outcome="delivered"}')).toBe('1');
    expect(line('eufy_relay_webhook_deliveries_total{outcome="failed"}')).toBe('2');
    expect(line('eufy_relay_webhook_deliveries_total{outcome="rate_limited"}')).toBe('0');
    expect(Number(line('eufy_relay_disk_free_bytes'))).toBeGreaterThan(0);
    expect(Number(line('process_resident_memory_bytes'))).toBeGreaterThan(0);
    expect(r.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });
});
